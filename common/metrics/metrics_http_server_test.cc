#include "common/metrics/metrics_http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"

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
