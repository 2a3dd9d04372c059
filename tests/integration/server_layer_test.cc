// The common server layer over real loopback sockets: health, reflection, message limits, TLS and
// mutual TLS, bearer tokens, retries, deadlines, graceful drain and RPC metrics.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "absl/time/clock.h"
#include "common/metrics/registry.h"
#include "common/metrics/text_format.h"
#include "common/rpc/channel_factory.h"
#include "common/rpc/grpc_probe.h"
#include "common/rpc/server_runner.h"
#include "common/service/rpc_metrics.h"
#include "tests/support/echo_service.h"
#include "tests/support/test_certificates.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;
using v1::testing::EchoRequest;
using v1::testing::EchoResponse;
using v1::testing::EchoService;

rpc::ServerOptions LoopbackOptions() {
  rpc::ServerOptions options;
  options.address = "127.0.0.1:0";
  return options;
}

struct EchoServer {
  testing::EchoServiceImpl service;
  std::unique_ptr<rpc::ServerRunner> runner;

  explicit EchoServer(const rpc::ServerOptions& options,
                      rpc::ServerRunner::InterceptorFactories interceptors = {}) {
    auto started = rpc::ServerRunner::Start(options, {rpc::Hosted<EchoService>(&service)},
                                            std::move(interceptors));
    EXPECT_TRUE(started.ok()) << started.status();
    if (started.ok()) runner = *std::move(started);
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(runner->port()); }
};

// Waits (up to 10 s) until the server is inside an Echo handler.
void WaitForCallInFlight(const testing::EchoServiceImpl& service) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (service.active_echo_calls() == 0 && absl::Now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GT(service.active_echo_calls(), 0) << "the call never reached the server";
}

// One Echo call; returns the status and fills *response.
grpc::Status CallEcho(const rpc::ChannelOptions& options, const EchoRequest& request,
                      EchoResponse* response, std::optional<absl::Duration> deadline = {}) {
  auto channel = rpc::CreateChannel(options);
  EXPECT_TRUE(channel.ok());
  auto stub = EchoService::NewStub(*channel);
  auto context = rpc::NewClientContext(options, deadline);
  return stub->Echo(context.get(), request, response);
}

EchoRequest Hello() {
  EchoRequest request;
  request.set_message("hello");
  return request;
}

TEST(ServerLayerTest, AnswersHealthChecksForTheServerAndEachService) {
  EchoServer server(LoopbackOptions());
  auto channel = *rpc::CreateChannel({.target = server.target()});
  EXPECT_EQ(*rpc::CheckHealth(channel, "", absl::Seconds(5)), rpc::ServingStatus::kServing);
  EXPECT_EQ(*rpc::CheckHealth(channel, "plumb.v1.testing.EchoService", absl::Seconds(5)),
            rpc::ServingStatus::kServing);
  EXPECT_EQ(rpc::CheckHealth(channel, "no.such.Service", absl::Seconds(5)).status().code(),
            absl::StatusCode::kNotFound);
  server.runner->SetServing(false);
  EXPECT_EQ(*rpc::CheckHealth(channel, "", absl::Seconds(5)), rpc::ServingStatus::kNotServing);
}

TEST(ServerLayerTest, ListsItsServicesThroughReflection) {
  EchoServer server(LoopbackOptions());
  auto channel = *rpc::CreateChannel({.target = server.target()});
  absl::StatusOr<std::vector<std::string>> services =
      rpc::ListServicesByReflection(channel, absl::Seconds(5));
  ASSERT_TRUE(services.ok()) << services.status();
  EXPECT_THAT(*services,
              ::testing::IsSupersetOf({"plumb.v1.testing.EchoService", "grpc.health.v1.Health"}));
}

TEST(ServerLayerTest, OversizedMessageIsRefusedAndTheServerKeepsServing) {
  rpc::ServerOptions options = LoopbackOptions();
  options.max_receive_message_bytes = 64 * 1024;
  EchoServer server(options);
  rpc::ChannelOptions client{.target = server.target()};
  client.max_send_message_bytes = 16 << 20;
  EchoRequest big = Hello();
  big.set_payload(std::string(100 * 1024, 'x'));
  EchoResponse response;
  grpc::Status status = CallEcho(client, big, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("Received message larger than max"));

  EchoRequest small = Hello();
  small.set_payload(std::string(1000, 'y'));
  ASSERT_TRUE(CallEcho(client, small, &response).ok());
  EXPECT_EQ(response.payload().size(), 1000u);
}

TEST(ServerLayerTest, RetriesUnavailableWithBackoffUntilTheCallSucceeds) {
  EchoServer server(LoopbackOptions());
  rpc::ChannelOptions client{.target = server.target()};
  client.retry.initial_backoff = absl::Milliseconds(10);
  EchoRequest flaky = Hello();
  flaky.set_request_key("flaky-1");
  flaky.set_fail_first_n(2);
  EchoResponse response;
  ASSERT_TRUE(CallEcho(client, flaky, &response).ok());
  EXPECT_EQ(response.attempt(), 3);

  rpc::ChannelOptions no_retry = client;
  no_retry.retry.max_attempts = 1;
  flaky.set_request_key("flaky-2");
  grpc::Status status = CallEcho(no_retry, flaky, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "attempt 1 fails on purpose");

  // Only UNAVAILABLE is retried: an INTERNAL error reaches the caller after one attempt.
  EchoRequest broken = Hello();
  broken.set_request_key("broken");
  broken.set_fail_first_n(1);
  broken.set_fail_code(static_cast<int>(grpc::StatusCode::INTERNAL));
  EXPECT_EQ(CallEcho(client, broken, &response).error_code(), grpc::StatusCode::INTERNAL);
  broken.set_fail_first_n(0);
  ASSERT_TRUE(CallEcho(client, broken, &response).ok());
  EXPECT_EQ(response.attempt(), 2);
}

TEST(ServerLayerTest, PerCallDeadlineEndsASlowCall) {
  EchoServer server(LoopbackOptions());
  EchoRequest slow = Hello();
  slow.set_sleep_ms(3000);
  EchoResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status =
      CallEcho({.target = server.target()}, slow, &response, absl::Milliseconds(200));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(ServerLayerTest, ShutdownLetsACallInFlightFinishThenRefusesNewCalls) {
  EchoServer server(LoopbackOptions());
  rpc::ChannelOptions client{.target = server.target()};
  client.retry.max_attempts = 1;
  EchoRequest slow = Hello();
  slow.set_sleep_ms(800);
  auto in_flight = std::async(std::launch::async, [&] {
    EchoResponse response;
    grpc::Status status = CallEcho(client, slow, &response);
    return std::make_pair(status, response.message());
  });
  WaitForCallInFlight(server.service);
  server.runner->Shutdown(absl::Seconds(10));
  auto [status, message] = in_flight.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(message, "hello");
  EchoResponse response;
  EXPECT_EQ(CallEcho(client, Hello(), &response, absl::Seconds(2)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(ServerLayerTest, ShutdownCancelsCallsThatOutliveTheGrace) {
  EchoServer server(LoopbackOptions());
  rpc::ChannelOptions client{.target = server.target()};
  EchoRequest slow = Hello();
  slow.set_sleep_ms(20000);
  auto in_flight = std::async(std::launch::async, [&] {
    EchoResponse response;
    return CallEcho(client, slow, &response).error_code();
  });
  WaitForCallInFlight(server.service);
  const absl::Time start = absl::Now();
  server.runner->Shutdown(absl::Milliseconds(300));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_NE(in_flight.get(), grpc::StatusCode::OK);
}

TEST(ServerLayerTest, BearerTokenWithoutTlsIsRefusedAtStart) {
  rpc::ServerOptions options = LoopbackOptions();
  options.bearer_token = "secret";
  testing::EchoServiceImpl service;
  auto runner = rpc::ServerRunner::Start(options, {rpc::Hosted<EchoService>(&service)});
  EXPECT_EQ(runner.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(runner.status().message()), HasSubstr("needs TLS"));
}

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto made = testing::MakeTestCertificates(::testing::TempDir());
    ASSERT_TRUE(made.ok()) << made.status();
    certs_ = new testing::TestCertificates(*std::move(made));
  }
  static void TearDownTestSuite() { delete certs_; }

  rpc::ServerOptions TlsServer(bool require_client_cert) const {
    rpc::ServerOptions options = LoopbackOptions();
    options.tls = rpc::ServerTlsOptions{certs_->server_cert_pem, certs_->server_key_pem,
                                        require_client_cert ? certs_->ca_pem : ""};
    return options;
  }
  rpc::ChannelOptions TlsClient(const EchoServer& server, bool with_cert, bool rogue = false) {
    rpc::ChannelOptions client{.target = "localhost:" + std::to_string(server.runner->port())};
    client.retry.max_attempts = 1;
    client.tls = rpc::ClientTlsOptions{.root_ca_pem = certs_->ca_pem};
    if (with_cert) {
      client.tls->cert_pem = rogue ? certs_->rogue_client_cert_pem : certs_->client_cert_pem;
      client.tls->key_pem = rogue ? certs_->rogue_client_key_pem : certs_->client_key_pem;
    }
    return client;
  }

  static testing::TestCertificates* certs_;
};
testing::TestCertificates* TlsTest::certs_ = nullptr;

TEST_F(TlsTest, TlsClientIsServedAndPlaintextClientIsRefused) {
  EchoServer server(TlsServer(false));
  EchoResponse response;
  grpc::Status ok = CallEcho(TlsClient(server, false), Hello(), &response, absl::Seconds(5));
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.message(), "hello");
  rpc::ChannelOptions plaintext{.target = server.target()};
  plaintext.retry.max_attempts = 1;
  EXPECT_EQ(CallEcho(plaintext, Hello(), &response, absl::Seconds(5)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, MutualTlsAcceptsOnlyClientsWithACertificateFromTheTrustedCa) {
  EchoServer server(TlsServer(true));
  EchoResponse response;
  grpc::Status ok = CallEcho(TlsClient(server, true), Hello(), &response, absl::Seconds(5));
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_EQ(response.peer_identity(), "plumb-test-client");
  EXPECT_EQ(CallEcho(TlsClient(server, false), Hello(), &response, absl::Seconds(5)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(
      CallEcho(TlsClient(server, true, true), Hello(), &response, absl::Seconds(5)).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // The refusals did not hurt the server.
  EXPECT_TRUE(CallEcho(TlsClient(server, true), Hello(), &response, absl::Seconds(5)).ok());
}

TEST_F(TlsTest, BearerTokenIsRequiredExceptForHealthChecks) {
  rpc::ServerOptions options = TlsServer(false);
  options.bearer_token = "correct-horse";
  EchoServer server(options);
  EchoResponse response;
  rpc::ChannelOptions client = TlsClient(server, false);
  grpc::Status missing = CallEcho(client, Hello(), &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(missing.error_message(), HasSubstr("requires a bearer token"));
  client.bearer_token = "wrong";
  grpc::Status wrong = CallEcho(client, Hello(), &response);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.error_message(), "invalid bearer token");
  client.bearer_token = "correct-horse";
  ASSERT_TRUE(CallEcho(client, Hello(), &response).ok());
  EXPECT_EQ(response.message(), "hello");
  // Probes carry no secret.
  auto channel = *rpc::CreateChannel(TlsClient(server, false));
  EXPECT_EQ(*rpc::CheckHealth(channel, "", absl::Seconds(5)), rpc::ServingStatus::kServing);
}

TEST(ServerLayerTest, BindingATakenPortIsUnavailableWithTheAddress) {
  EchoServer first(LoopbackOptions());
  rpc::ServerOptions options = LoopbackOptions();
  options.address = first.target();
  testing::EchoServiceImpl service;
  auto second = rpc::ServerRunner::Start(options, {rpc::Hosted<EchoService>(&service)});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr(first.target()));
}

TEST(ServerLayerTest, RpcMetricsCountCallsByMethodAndCode) {
  metrics::Registry registry;
  rpc::ServerRunner::InterceptorFactories interceptors;
  interceptors.push_back(*service::MakeRpcMetricsInterceptorFactory(&registry, "echo"));
  EchoServer server(LoopbackOptions(), std::move(interceptors));
  rpc::ChannelOptions client{.target = server.target()};
  client.retry.max_attempts = 1;
  EchoResponse response;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(CallEcho(client, Hello(), &response).ok());
  EchoRequest failing = Hello();
  failing.set_fail_first_n(1);
  failing.set_request_key("metrics");
  EXPECT_FALSE(CallEcho(client, failing, &response).ok());
  // The interceptor lowers the in-flight gauge when gRPC destroys the call, which may come a
  // moment after the client has its answer: wait for it (bounded) before reading the counters.
  std::string text;
  for (int attempt = 0; attempt < 200; ++attempt) {
    text = metrics::RenderPrometheusText(registry.Collect());
    if (text.find(R"(plumb_rpc_in_flight_requests{service="echo"} 0)") != std::string::npos) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(plumb_rpc_requests_total{service="echo",method="EchoService/Echo",code="OK"} 3)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(plumb_rpc_requests_total{service="echo",method="EchoService/Echo",code="UNAVAILABLE"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(plumb_rpc_duration_seconds_count{service="echo",method="EchoService/Echo"} 4)"));
  EXPECT_THAT(text, HasSubstr(R"(plumb_rpc_in_flight_requests{service="echo"} 0)"));
}

}  // namespace
}  // namespace plumb
