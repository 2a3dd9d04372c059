// LoadWeightsEndpoint's metrics: a name the registry refuses is a status the service's Create
// returns at start-up, never a crash.
#include "common/weights/model_service_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics/registry.h"

namespace plumb::weights {
namespace {

using ::testing::HasSubstr;

TEST(LoadWeightsEndpointTest, AMetricNameTakenWithAnotherDefinitionIsAnError) {
  metrics::Registry registry;
  LoadWeightsEndpoint endpoint;
  ASSERT_TRUE(endpoint.RegisterMetrics(&registry, "plumb_test").ok());
  // The same definitions again are the same families (a second endpoint of one service kind).
  LoadWeightsEndpoint twin;
  EXPECT_TRUE(twin.RegisterMetrics(&registry, "plumb_test").ok());
  metrics::Registry taken;
  ASSERT_TRUE(taken.AddGauge("plumb_test_weight_loads_total", "a gauge, not a counter").ok());
  LoadWeightsEndpoint refused;
  const absl::Status status = refused.RegisterMetrics(&taken, "plumb_test");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("plumb_test_weight_loads_total"));
}

}  // namespace
}  // namespace plumb::weights
