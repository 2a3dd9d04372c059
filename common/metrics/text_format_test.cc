#include "common/metrics/text_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/metrics/registry.h"

namespace plumb::metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(TextFormatTest, ASmallRegistryRendersExactly) {
  Registry registry;
  CounterFamily* rpcs =
      registry.AddCounter("plumb_rpcs_total", "RPCs handled.", {"method", "code"}).value();
  rpcs->WithLabels({"Generate", "OK"}).Increment(3);
  rpcs->WithLabels({"Generate", "INTERNAL"}).Increment();
  registry.AddGauge("plumb_queue_depth", "Requests waiting.").value()->WithLabels({}).Set(7);
  HistogramFamily* latency =
      registry.AddHistogram("plumb_rpc_latency_seconds", "RPC latency.", {"method"}, {0.1, 1})
          .value();
  Histogram& generate = latency->WithLabels({"Generate"});
  generate.Observe(0.0625);
  generate.Observe(0.5);
  generate.Observe(3);

  EXPECT_EQ(RenderPrometheusText(registry.Collect()),
            "# HELP plumb_queue_depth Requests waiting.\n"
            "# TYPE plumb_queue_depth gauge\n"
            "plumb_queue_depth 7\n"
            "# HELP plumb_rpc_latency_seconds RPC latency.\n"
            "# TYPE plumb_rpc_latency_seconds histogram\n"
            "plumb_rpc_latency_seconds_bucket{method=\"Generate\",le=\"0.1\"} 1\n"
            "plumb_rpc_latency_seconds_bucket{method=\"Generate\",le=\"1\"} 2\n"
            "plumb_rpc_latency_seconds_bucket{method=\"Generate\",le=\"+Inf\"} 3\n"
            "plumb_rpc_latency_seconds_sum{method=\"Generate\"} 3.5625\n"
            "plumb_rpc_latency_seconds_count{method=\"Generate\"} 3\n"
            "# HELP plumb_rpcs_total RPCs handled.\n"
            "# TYPE plumb_rpcs_total counter\n"
            "plumb_rpcs_total{method=\"Generate\",code=\"INTERNAL\"} 1\n"
            "plumb_rpcs_total{method=\"Generate\",code=\"OK\"} 3\n");
}

TEST(TextFormatTest, AnUnlabelledHistogramPutsOnlyLeInBraces) {
  Registry registry;
  registry.AddHistogram("step_seconds", "Step time.", {}, {2}).value()->WithLabels({}).Observe(1);
  EXPECT_EQ(RenderPrometheusText(registry.Collect()),
            "# HELP step_seconds Step time.\n"
            "# TYPE step_seconds histogram\n"
            "step_seconds_bucket{le=\"2\"} 1\n"
            "step_seconds_bucket{le=\"+Inf\"} 1\n"
            "step_seconds_sum 1\n"
            "step_seconds_count 1\n");
}

TEST(TextFormatTest, AFamilyWithoutChildrenWritesOnlyItsHeader) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("errors_total", "Errors.", {"kind"}).ok());
  EXPECT_EQ(RenderPrometheusText(registry.Collect()),
            "# HELP errors_total Errors.\n"
            "# TYPE errors_total counter\n");
}

TEST(TextFormatTest, HelpEscapesBackslashAndNewlineButNotQuotes) {
  EXPECT_EQ(EscapeHelp("a\\b\nc \"d\""), "a\\\\b\\nc \"d\"");
}

TEST(TextFormatTest, LabelValuesEscapeBackslashQuoteAndNewline) {
  EXPECT_EQ(EscapeLabelValue("C:\\x \"y\"\nz"), "C:\\\\x \\\"y\\\"\\nz");
  Registry registry;
  registry.AddGauge("g", "Line one.\nLine \\two.", {"path"})
      .value()
      ->WithLabels({"a\"b\\c\nd"})
      .Set(1);
  EXPECT_EQ(RenderPrometheusText(registry.Collect()),
            "# HELP g Line one.\\nLine \\\\two.\n"
            "# TYPE g gauge\n"
            "g{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(TextFormatTest, SpecialValuesUsePrometheusSpellings) {
  EXPECT_EQ(FormatPrometheusValue(kInf), "+Inf");
  EXPECT_EQ(FormatPrometheusValue(-kInf), "-Inf");
  EXPECT_EQ(FormatPrometheusValue(std::nan("")), "NaN");
}

TEST(TextFormatTest, IntegersPrintWithoutExponentOrFraction) {
  EXPECT_EQ(FormatPrometheusValue(0), "0");
  EXPECT_EQ(FormatPrometheusValue(-0.0), "0");
  EXPECT_EQ(FormatPrometheusValue(-3), "-3");
  EXPECT_EQ(FormatPrometheusValue(1e6), "1000000");
  EXPECT_EQ(FormatPrometheusValue(1717171717), "1717171717");
  EXPECT_EQ(FormatPrometheusValue(9007199254740992.0), "9007199254740992");
}

TEST(TextFormatTest, OtherValuesUseTheShortestFormThatRoundTrips) {
  EXPECT_EQ(FormatPrometheusValue(0.25), "0.25");
  EXPECT_EQ(FormatPrometheusValue(0.1), "0.1");
  EXPECT_EQ(FormatPrometheusValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatPrometheusValue(1e-5), "1e-05");
  EXPECT_EQ(FormatPrometheusValue(1e20), "1e+20");
  EXPECT_EQ(FormatPrometheusValue(1717171717.125), "1717171717.125");
}

TEST(TextFormatTest, ContentTypeIsTheOnePrometheusNegotiates) {
  EXPECT_EQ(kPrometheusTextContentType, "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace plumb::metrics
