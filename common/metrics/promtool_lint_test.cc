// Checks a real scrape with Prometheus' own linter, `promtool check metrics`, so that the
// exposition is valid for the parser that will actually read it, not just for our golden strings.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/metrics/build_info.h"
#include "common/metrics/metrics_http_server.h"
#include "common/metrics/process_metrics.h"
#include "common/metrics/registry.h"

namespace plumb::metrics {
namespace {

// $PROMTOOL if set, else the first promtool on $PATH, else "" (the test then fails).
std::string FindPromtool() {
  if (const char* override_path = std::getenv("PROMTOOL"); override_path && *override_path) {
    return override_path;
  }
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path ? path : "/usr/bin", ':')) {
    std::string candidate = absl::StrCat(dir, "/promtool");
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

struct LintResult {
  int exit_status = -1;
  std::string output;  // promtool writes its findings to stderr; this holds stdout and stderr.
};

LintResult RunPromtool(const std::string& promtool, const std::string& exposition) {
  const std::string file = absl::StrCat(testing::TempDir(), "/plumb_metrics_", getpid(), ".prom");
  std::ofstream(file) << exposition;
  LintResult result;
  FILE* pipe =
      popen(absl::StrCat("'", promtool, "' check metrics < '", file, "' 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::remove(file.c_str());
  return result;
}

// What a Plumb service registers: RPC counters and latency, queue gauges, a token histogram,
// awkward label values, special float values, process metrics and build info.
void RegisterRealisticMix(Registry* registry) {
  CounterFamily* rpcs =
      registry
          ->AddCounter("plumb_rpcs_total", "RPCs handled, by method and status code.",
                       {"method", "code"})
          .value();
  rpcs->WithLabels({"Generate", "OK"}).Increment(41);
  rpcs->WithLabels({"Generate", "RESOURCE_EXHAUSTED"}).Increment();
  rpcs->WithLabels({"Score", "OK"}).Increment(1e6);
  HistogramFamily* latency =
      registry->AddHistogram("plumb_rpc_latency_seconds", "RPC latency.", {"method"}).value();
  for (double seconds : {0.003, 0.04, 0.2, 1.5, 45.0, 500.0}) {
    latency->WithLabels({"Generate"}).Observe(seconds);
  }
  latency->WithLabels({"Score"}).Observe(0.01);
  HistogramFamily* tokens =
      registry
          ->AddHistogram("plumb_generated_tokens", "Tokens generated per request.", {},
                         ExponentialBuckets(16, 2, 8).value())
          .value();
  tokens->WithLabels({}).Observe(300);
  registry->AddGauge("plumb_queue_depth", "Requests waiting for the model.", {"queue"})
      .value()
      ->WithLabels({"generate"})
      .Set(3);
  GaugeFamily* odd =
      registry
          ->AddGauge("plumb_test_odd_values",
                     "Awkward values: a \\ backslash,\na newline and \"quotes\".", {"path"})
          .value();
  odd->WithLabels({"C:\\models\\\"policy\"\nv2"}).Set(std::numeric_limits<double>::quiet_NaN());
  odd->WithLabels({"inf"}).Set(std::numeric_limits<double>::infinity());
  odd->WithLabels({"-inf"}).Set(-std::numeric_limits<double>::infinity());
  odd->WithLabels({"tiny"}).Set(1e-12);
  odd->WithLabels({"caf\xc3\xa9"}).Set(-2.5);
  ASSERT_TRUE(registry->AddCounter("plumb_errors_total", "Errors, by kind.", {"kind"}).ok());
  ASSERT_TRUE(RegisterProcessMetrics(registry).ok());
  ASSERT_TRUE(RegisterBuildInfo(registry, "0.1.0", "sampler").ok());
}

TEST(PromtoolLintTest, AScrapedRealisticRegistryPassesPromtoolWithNoFindings) {
  const std::string promtool = FindPromtool();
  ASSERT_FALSE(promtool.empty())
      << "promtool not found on PATH (nor in $PROMTOOL); install it (Debian: apt-get install "
         "prometheus) so the exposition can be linted";
  Registry registry;
  RegisterRealisticMix(&registry);
  absl::StatusOr<std::unique_ptr<MetricsHttpServer>> server =
      MetricsHttpServer::Start({.host = "127.0.0.1", .port = 0}, &registry);
  ASSERT_TRUE(server.ok()) << server.status();
  httplib::Client client("127.0.0.1", (*server)->port());
  httplib::Result response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  ASSERT_EQ(response->status, 200);

  LintResult lint = RunPromtool(promtool, response->body);
  EXPECT_EQ(lint.exit_status, 0) << lint.output << "\n--- exposition ---\n" << response->body;
  EXPECT_EQ(lint.output, "") << "--- exposition ---\n" << response->body;
}

// Guards the test above against passing vacuously (say, promtool reading nothing).
TEST(PromtoolLintTest, PromtoolFlagsACounterWithoutTheTotalSuffix) {
  const std::string promtool = FindPromtool();
  ASSERT_FALSE(promtool.empty()) << "promtool not found on PATH (nor in $PROMTOOL)";
  LintResult lint = RunPromtool(promtool, "# HELP rpcs RPCs.\n# TYPE rpcs counter\nrpcs 1\n");
  EXPECT_NE(lint.exit_status, 0);
  EXPECT_NE(lint.output.find("_total"), std::string::npos) << lint.output;
}

}  // namespace
}  // namespace plumb::metrics
