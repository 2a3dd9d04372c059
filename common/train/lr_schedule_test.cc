#include "common/train/lr_schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace plumb::train {
namespace {

TEST(LrScheduleTest, WarmUpRisesLinearlyToThePeak) {
  ScheduleOptions options{.kind = "constant", .warmup_steps = 4};
  EXPECT_DOUBLE_EQ(LearningRateAt(1.0, 0, 100, options), 0.25);
  EXPECT_DOUBLE_EQ(LearningRateAt(1.0, 1, 100, options), 0.5);
  EXPECT_DOUBLE_EQ(LearningRateAt(1.0, 3, 100, options), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt(1.0, 50, 100, options), 1.0);
}

TEST(LrScheduleTest, CosineFallsFromThePeakToTheFloorAtTheLastStep) {
  ScheduleOptions options{.kind = "cosine", .warmup_steps = 10, .min_lr_ratio = 0.1};
  EXPECT_DOUBLE_EQ(LearningRateAt(2.0, 10, 110, options), 2.0);
  EXPECT_NEAR(LearningRateAt(2.0, 60, 110, options), 2.0 * (0.1 + 0.9 * 0.5), 1e-12);
  EXPECT_NEAR(LearningRateAt(2.0, 110, 110, options), 0.2, 1e-12);
  double previous = 3.0;
  for (int step = 10; step <= 110; ++step) {
    const double lr = LearningRateAt(2.0, step, 110, options);
    EXPECT_LE(lr, previous);
    previous = lr;
  }
}

TEST(LrScheduleTest, LinearDecaysToTheFloor) {
  ScheduleOptions options{.kind = "linear", .warmup_steps = 0, .min_lr_ratio = 0.0};
  EXPECT_DOUBLE_EQ(LearningRateAt(1.0, 0, 10, options), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateAt(1.0, 5, 10, options), 0.5);
  EXPECT_DOUBLE_EQ(LearningRateAt(1.0, 10, 10, options), 0.0);
}

TEST(LrScheduleTest, ConfigRejectsAnUnknownKindAndAnOutOfRangeRatio) {
  auto parse = [](const std::string& yaml) {
    absl::StatusOr<config::ConfigMap> map = config::ConfigMap::FromString(yaml, "job.yaml");
    ScheduleOptions options;
    return ParseScheduleOptions(*map, &options);
  };
  EXPECT_TRUE(parse("kind: linear\nwarmup_steps: 3\n").ok());
  EXPECT_THAT(std::string(parse("kind: exponential\n").message()),
              ::testing::HasSubstr("job.yaml:1: key 'kind'"));
  EXPECT_THAT(std::string(parse("min_lr_ratio: 1.5\n").message()),
              ::testing::HasSubstr("key 'min_lr_ratio'"));
}

}  // namespace
}  // namespace plumb::train
