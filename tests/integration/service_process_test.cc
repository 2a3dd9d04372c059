// A real service process (plumb-test-echo-server, built on the common service host): config
// file, ready line, health over gRPC, /metrics over HTTP checked by promtool, the SIGTERM drain
// with exit code 0, and start-up refusal of a bad config.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include "common/rpc/channel_factory.h"
#include "common/rpc/grpc_probe.h"
#include "plumb/v1/testing/echo.grpc.pb.h"
#include "tests/support/subprocess.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;
using testing::Subprocess;

struct RunningServer {
  std::unique_ptr<Subprocess> process;
  int grpc_port = 0;
  int metrics_port = 0;
};

std::string WriteConfig(const std::string& name, const std::string& yaml) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << yaml;
  return path;
}

RunningServer StartEchoServer(const std::string& extra_server_yaml = "") {
  const std::string config =
      WriteConfig("echo_server.yaml",
                  "server:\n  address: 127.0.0.1:0\n  shutdown_grace: 10s\n" + extra_server_yaml +
                      "metrics:\n  address: 127.0.0.1\n  port: 0\nlogging:\n  level: info\n");
  RunningServer server;
  auto process =
      Subprocess::Start({testing::BinaryPath("plumb-test-echo-server"), "--config", config});
  EXPECT_TRUE(process.ok()) << process.status();
  server.process = std::make_unique<Subprocess>(*std::move(process));
  absl::StatusOr<std::string> ready = server.process->WaitForLine(" ready ", absl::Seconds(30));
  EXPECT_TRUE(ready.ok()) << ready.status();
  std::smatch match;
  const std::regex pattern("grpc_port=(\\d+) metrics_port=(\\d+)");
  EXPECT_TRUE(std::regex_search(*ready, match, pattern)) << *ready;
  server.grpc_port = std::stoi(match[1]);
  server.metrics_port = std::stoi(match[2]);
  return server;
}

grpc::Status Echo(int port, int sleep_ms, std::string* message) {
  rpc::ChannelOptions options{.target = "127.0.0.1:" + std::to_string(port)};
  options.retry.max_attempts = 1;
  auto stub = v1::testing::EchoService::NewStub(*rpc::CreateChannel(options));
  v1::testing::EchoRequest request;
  request.set_message("ping");
  request.set_sleep_ms(sleep_ms);
  v1::testing::EchoResponse response;
  auto context = rpc::NewClientContext(options);
  grpc::Status status = stub->Echo(context.get(), request, &response);
  *message = response.message();
  return status;
}

TEST(ServiceProcessTest, ServesHealthAndMetricsThatPassPromtool) {
  RunningServer server = StartEchoServer();
  auto channel = *rpc::CreateChannel({.target = "127.0.0.1:" + std::to_string(server.grpc_port)});
  EXPECT_EQ(*rpc::CheckHealth(channel, "", absl::Seconds(5)), rpc::ServingStatus::kServing);
  std::string message;
  ASSERT_TRUE(Echo(server.grpc_port, 0, &message).ok());

  httplib::Client http("127.0.0.1", server.metrics_port);
  httplib::Result scrape = http.Get("/metrics");
  ASSERT_TRUE(scrape) << "GET /metrics failed";
  EXPECT_EQ(scrape->status, 200);
  EXPECT_THAT(scrape->get_header_value("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  const std::string& body = scrape->body;
  EXPECT_THAT(
      body,
      HasSubstr(
          R"(plumb_rpc_requests_total{service="test-echo-server",method="EchoService/Echo",code="OK"} 1)"));
  EXPECT_THAT(body, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(body, HasSubstr("process_cpu_seconds_total "));
  EXPECT_THAT(body, HasSubstr("process_start_time_seconds "));
  EXPECT_THAT(body, HasSubstr(R"(component="plumb-test-echo-server")"));

  const std::string scraped = ::testing::TempDir() + "/scraped_metrics.txt";
  std::ofstream(scraped) << body;
  const std::string command = "promtool check metrics < '" + scraped + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string lint;
  char buffer[512];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) lint += buffer;
  const int exit_code = WEXITSTATUS(pclose(pipe));
  EXPECT_EQ(exit_code, 0) << "promtool check metrics failed (is the prometheus package "
                             "installed?):\n"
                          << lint;
  EXPECT_EQ(lint, "");
}

TEST(ServiceProcessTest, SigtermDuringASlowCallLetsItFinishAndExitsZero) {
  RunningServer server = StartEchoServer();
  auto slow = std::async(std::launch::async, [&] {
    std::string message;
    grpc::Status status = Echo(server.grpc_port, 1500, &message);
    return std::make_pair(status, message);
  });
  // Wait until the server's own metrics show the call in flight.
  httplib::Client http("127.0.0.1", server.metrics_port);
  const std::string in_flight = R"(plumb_rpc_in_flight_requests{service="test-echo-server"} 1)";
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  bool seen = false;
  while (!seen && absl::Now() < give_up) {
    httplib::Result scrape = http.Get("/metrics");
    seen = scrape && scrape->body.find(in_flight) != std::string::npos;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(seen) << "the slow call never showed up in flight";
  server.process->Signal(SIGTERM);
  auto [status, message] = slow.get();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(message, "ping");
  absl::StatusOr<int> exit_code = server.process->Wait(absl::Seconds(15));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  std::string unused;
  EXPECT_EQ(Echo(server.grpc_port, 0, &unused).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ServiceProcessTest, SigintAlsoDrainsAndExitsZero) {
  RunningServer server = StartEchoServer();
  server.process->Signal(SIGINT);
  absl::StatusOr<int> exit_code = server.process->Wait(absl::Seconds(15));
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
}

TEST(ServiceProcessTest, BadConfigIsRefusedAtStartWithFileKeyAndFix) {
  const std::string config = WriteConfig("bad_echo.yaml", "server:\n  adress: 127.0.0.1:0\n");
  auto process = Subprocess::Start(
      {testing::BinaryPath("plumb-test-echo-server"), "--config", config}, /*merge_stderr=*/true);
  ASSERT_TRUE(process.ok());
  absl::StatusOr<std::string> line = process->WaitForLine("INVALID_ARGUMENT", absl::Seconds(30));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, HasSubstr(config + ":2: key 'server.adress': unknown key; did you mean "
                                        "'address'?"));
  EXPECT_EQ(*process->Wait(absl::Seconds(10)), 2);
}

}  // namespace
}  // namespace plumb
