#include "common/metrics/metric_name.h"

#include <gtest/gtest.h>

namespace plumb::metrics {
namespace {

TEST(MetricNameTest, NamesFollowingThePrometheusGrammarAreAccepted) {
  for (const char* name : {"plumb_rpcs_total", "_private", ":recording:rule", "a1", "A_b:c9"}) {
    EXPECT_TRUE(ValidateMetricName(name).ok()) << name;
  }
}

TEST(MetricNameTest, NamesBreakingTheGrammarAreRejectedWithTheName) {
  for (const char* name : {"", "1abc", "a-b", "a b", "rpc.count", "caf\xc3\xa9"}) {
    absl::Status status = ValidateMetricName(name);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
  }
  EXPECT_EQ(ValidateMetricName("1abc").message(),
            "metric name \"1abc\" is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*");
}

TEST(MetricNameTest, LabelNamesMayNotContainColonsOrStartWithDigits) {
  EXPECT_TRUE(ValidateLabelName("m", "method").ok());
  EXPECT_TRUE(ValidateLabelName("m", "_code2").ok());
  EXPECT_EQ(ValidateLabelName("m", "a:b").message(),
            "label name \"a:b\" of metric \"m\" is invalid: it must match [a-zA-Z_][a-zA-Z0-9_]*");
  EXPECT_EQ(ValidateLabelName("m", "2xx").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateLabelName("m", "").code(), absl::StatusCode::kInvalidArgument);
}

TEST(MetricNameTest, LabelNamesStartingWithTwoUnderscoresAreReserved) {
  absl::Status status = ValidateLabelName("m", "__name__");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "label name \"__name__\" of metric \"m\" is reserved: names starting with \"__\" "
            "belong to Prometheus");
  EXPECT_TRUE(ValidateLabelName("m", "_x").ok());
}

TEST(MetricNameTest, ALabelNameListedTwiceIsRejected) {
  EXPECT_TRUE(ValidateLabelNames("m", {"method", "code"}).ok());
  absl::Status status = ValidateLabelNames("m", {"method", "code", "method"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "label name \"method\" appears twice in metric \"m\"");
}

}  // namespace
}  // namespace plumb::metrics
