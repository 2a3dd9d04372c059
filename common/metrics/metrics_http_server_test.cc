#include "common/metrics/metrics_http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"
#include "tests/support/test_certificates.h"

namespace plumb::metrics {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<MetricsHttpServer> StartOnFreePort(const Registry* registry) {
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start({.host = "127.0.0.1", .port = 0}, registry);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(MetricsHttpServerTest, ServesTheRegistryInPrometheusTextFormat) {
  Registry registry;
  registry.AddCounter("plumb_rpcs_total", "RPCs.", {"method"})
      .value()
      ->WithLabels({"Generate"})
      .Increment(2);
  std::unique_ptr<MetricsHttpServer> server = StartOnFreePort(&registry);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);

  httplib::Client client("127.0.0.1", server->port());
  httplib::Result response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(response->body,
            "# HELP plumb_rpcs_total RPCs.\n"
            "# TYPE plumb_rpcs_total counter\n"
            "plumb_rpcs_total{method=\"Generate\"} 2\n");
}

TEST(MetricsHttpServerTest, EachScrapeSeesTheLatestValues) {
  Registry registry;
  Gauge& depth = registry.AddGauge("queue_depth", "Depth.").value()->WithLabels({});
  std::unique_ptr<MetricsHttpServer> server = StartOnFreePort(&registry);
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());
  EXPECT_THAT(client.Get("/metrics")->body, HasSubstr("\nqueue_depth 0\n"));
  depth.Set(12);
  EXPECT_THAT(client.Get("/metrics")->body, HasSubstr("\nqueue_depth 12\n"));
}

TEST(MetricsHttpServerTest, HealthzAnswersOkAndOtherPathsAreNotFound) {
  Registry registry;
  std::unique_ptr<MetricsHttpServer> server = StartOnFreePort(&registry);
  ASSERT_NE(server, nullptr);
  httplib::Client client("127.0.0.1", server->port());
  httplib::Result health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok");
  httplib::Result missing = client.Get("/metricz");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  httplib::Result post = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_NE(post->status, 200);
}

TEST(MetricsHttpServerTest, TwoServersOnPortZeroGetDifferentPorts) {
  Registry registry;
  std::unique_ptr<MetricsHttpServer> first = StartOnFreePort(&registry);
  std::unique_ptr<MetricsHttpServer> second = StartOnFreePort(&registry);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(first->port(), second->port());
}

TEST(MetricsHttpServerTest, StartingOnATakenPortIsUnavailable) {
  Registry registry;
  std::unique_ptr<MetricsHttpServer> first = StartOnFreePort(&registry);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> second =
      MetricsHttpServer::Start({.host = "127.0.0.1", .port = first->port()}, &registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("cannot listen on 127.0.0.1:", first->port())));
}

TEST(MetricsHttpServerTest, BadArgumentsAreInvalidArgument) {
  Registry registry;
  EXPECT_EQ(MetricsHttpServer::Start({}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsHttpServer::Start({.port = 70000}, &registry).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsHttpServer::Start({.port = -1}, &registry).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricsHttpServerTest, DestroyingTheServerClosesItsPort) {
  Registry registry;
  std::unique_ptr<MetricsHttpServer> server = StartOnFreePort(&registry);
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  server.reset();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  httplib::Result response = client.Get("/healthz");
  EXPECT_FALSE(response);
}

TEST(MetricsHttpServerTest, AServerStoppedRightAfterStartShutsDownCleanly) {
  Registry registry;
  for (int i = 0; i < 20; ++i) {
    std::unique_ptr<MetricsHttpServer> server = StartOnFreePort(&registry);
    ASSERT_NE(server, nullptr);
  }
}

TEST(MetricsHttpServerTest, ConcurrentScrapesAllSucceed) {
  Registry registry;
  Counter& updates = registry.AddCounter("updates_total", "Updates.").value()->WithLabels({});
  std::unique_ptr<MetricsHttpServer> server = StartOnFreePort(&registry);
  ASSERT_NE(server, nullptr);
  std::atomic<int> successes{0};
  std::vector<std::thread> scrapers;
  for (int t = 0; t < 4; ++t) {
    scrapers.emplace_back([&] {
      httplib::Client client("127.0.0.1", server->port());
      for (int i = 0; i < 20; ++i) {
        updates.Increment();
        httplib::Result response = client.Get("/metrics");
        if (response && response->status == 200 &&
            response->body.find("updates_total ") != std::string::npos) {
          ++successes;
        }
      }
    });
  }
  for (std::thread& scraper : scrapers) scraper.join();
  EXPECT_EQ(successes, 80);
}

}  // namespace
}  // namespace plumb::metrics

namespace plumb::metrics {
namespace {

TEST(MetricsHttpServerTest, ListensOnLoopbackUnlessConfigured) {
  EXPECT_EQ(MetricsHttpServer::Options{}.host, "127.0.0.1");
}

TEST(MetricsHttpServerTest, ATokenGuardsMetricsButNotHealthz) {
  Registry registry;
  registry.AddGauge("queue_depth", "Depth.").value()->WithLabels({}).Set(3);
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server = MetricsHttpServer::Start(
      {.host = "127.0.0.1", .port = 0, .bearer_token = "s3cret"}, &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result anonymous = client.Get("/metrics");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_THAT(anonymous->body, ::testing::Not(HasSubstr("queue_depth")));
  httplib::Result wrong = client.Get("/metrics", {{"Authorization", "Bearer s3creT"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  httplib::Result good = client.Get("/metrics", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200);
  EXPECT_THAT(good->body, HasSubstr("queue_depth 3"));
  httplib::Result health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// Clients that connect and never send a request hold a worker for about a second each; with the
// old 2 workers, 48 of them delayed a scrape by ~24 s (measured), now by ~3 s.
TEST(MetricsHttpServerTest, HalfOpenConnectionsDoNotStarveAScrape) {
  Registry registry;
  std::unique_ptr<MetricsHttpServer> server = StartOnFreePort(&registry);
  ASSERT_NE(server, nullptr);
  std::vector<int> idle;
  for (int i = 0; i < 48; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(server->port()));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    idle.push_back(fd);
  }
  const auto start = std::chrono::steady_clock::now();
  httplib::Client client("127.0.0.1", server->port());
  client.set_read_timeout(60);
  httplib::Result response = client.Get("/healthz");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int fd : idle) close(fd);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_LT(seconds, 12.0) << "48 idle connections delayed the scrape";
}

TEST(MetricsHttpServerTest, ServesHttpsWithTheConfiguredCertificate) {
  absl::StatusOr<testing::TestCertificates> certs =
      testing::MakeTestCertificates(::testing::TempDir());
  ASSERT_TRUE(certs.ok()) << certs.status();
  Registry registry;
  registry.AddGauge("queue_depth", "Depth.").value()->WithLabels({}).Set(5);
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start({.host = "127.0.0.1",
                                .port = 0,
                                .tls_cert_file = certs->dir + "/server.pem",
                                .tls_key_file = certs->dir + "/server.key"},
                               &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::SSLClient client("127.0.0.1", (*server)->port());
  client.set_ca_cert_path((certs->dir + "/plumb-test-ca.pem").c_str());
  client.enable_server_certificate_verification(true);
  httplib::Result response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_THAT(response->body, HasSubstr("queue_depth 5"));
  // Plain HTTP to the HTTPS port gets no metrics.
  httplib::Client plain("127.0.0.1", (*server)->port());
  plain.set_read_timeout(2);
  httplib::Result refused = plain.Get("/metrics");
  EXPECT_TRUE(!refused || refused->status != 200);
}

TEST(MetricsHttpServerTest, HttpsNeedsBothFilesThatLoad) {
  Registry registry;
  EXPECT_EQ(MetricsHttpServer::Start({.tls_cert_file = "/nonexistent/cert.pem"}, &registry)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MetricsHttpServer::Start(
                {.tls_cert_file = "/nonexistent/cert.pem", .tls_key_file = "/nonexistent/k.pem"},
                &registry)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace plumb::metrics
