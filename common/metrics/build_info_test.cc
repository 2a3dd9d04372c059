#include "common/metrics/build_info.h"

#include <gtest/gtest.h>

#include "common/metrics/text_format.h"

namespace plumb::metrics {
namespace {

TEST(BuildInfoTest, ExportsOneWithTheVersionAndComponentLabels) {
  Registry registry;
  ASSERT_TRUE(RegisterBuildInfo(&registry, "0.1.0-3-gabc1234", "sampler").ok());
  EXPECT_EQ(RenderPrometheusText(registry.Collect()),
            "# HELP plumb_build_info Always 1; the labels name the running build.\n"
            "# TYPE plumb_build_info gauge\n"
            "plumb_build_info{version=\"0.1.0-3-gabc1234\",component=\"sampler\"} 1\n");
}

TEST(BuildInfoTest, FailsWhenTheNameIsTakenByAnotherMetric) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("plumb_build_info", "Something else.").ok());
  EXPECT_EQ(RegisterBuildInfo(&registry, "1", "trainer").code(), absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace plumb::metrics
