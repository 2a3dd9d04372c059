#include "common/metrics/histogram.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace plumb::metrics {
namespace {

using ::testing::ElementsAre;

HistogramSnapshot SnapshotOf(const Histogram& histogram) {
  SampleSnapshot sample;
  histogram.Snapshot(&sample);
  return sample.histogram;
}

std::shared_ptr<const std::vector<double>> Bounds(std::vector<double> bounds) {
  return std::make_shared<const std::vector<double>>(std::move(bounds));
}

TEST(HistogramTest, ObservationsCountInTheFirstBucketWhoseBoundIsAtLeastTheValue) {
  Histogram histogram(Bounds({1, 2, 5}));
  for (double value : {0.5, 1.0, 1.5, 5.0, 7.0}) histogram.Observe(value);
  HistogramSnapshot snapshot = SnapshotOf(histogram);
  EXPECT_THAT(snapshot.upper_bounds, ElementsAre(1, 2, 5));
  // le=1 holds 0.5 and 1 (bounds are inclusive); +Inf holds everything.
  EXPECT_THAT(snapshot.cumulative_counts, ElementsAre(2, 3, 4, 5));
  EXPECT_DOUBLE_EQ(snapshot.sum, 15.0);
  EXPECT_EQ(histogram.Count(), 5u);
}

TEST(HistogramTest, NanObservationsAreIgnoredAndInfinityGoesToTheLastBucket) {
  Histogram histogram(Bounds({1}));
  histogram.Observe(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(histogram.Count(), 0u);
  histogram.Observe(std::numeric_limits<double>::infinity());
  EXPECT_THAT(SnapshotOf(histogram).cumulative_counts, ElementsAre(0, 1));
}

TEST(HistogramTest, AHistogramWithNoBoundsHasOnlyTheInfBucket) {
  Histogram histogram(Bounds({}));
  histogram.Observe(3);
  EXPECT_THAT(SnapshotOf(histogram).cumulative_counts, ElementsAre(1));
}

TEST(HistogramTest, DefaultLatencyBucketsSpanFiveMillisecondsToTwoMinutes) {
  std::vector<double> buckets = DefaultLatencyBuckets();
  ASSERT_FALSE(buckets.empty());
  EXPECT_DOUBLE_EQ(buckets.front(), 0.005);
  EXPECT_DOUBLE_EQ(buckets.back(), 120.0);
  EXPECT_TRUE(ValidateBuckets("default", buckets).ok());
}

TEST(HistogramTest, ExponentialBucketsMultiplyByTheFactor) {
  EXPECT_THAT(ExponentialBuckets(1, 2, 4).value(), ElementsAre(1, 2, 4, 8));
  EXPECT_EQ(ExponentialBuckets(0, 2, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExponentialBuckets(1, 1, 4).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExponentialBuckets(1, 2, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ExponentialBuckets(1e300, 1e10, 3).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(HistogramTest, BucketsMustBeFiniteAndStrictlyIncreasing) {
  EXPECT_TRUE(ValidateBuckets("h", {}).ok());
  EXPECT_EQ(ValidateBuckets("h", {1, 1}).message(),
            "histogram \"h\": bucket bounds must be strictly increasing, but 1 follows 1");
  EXPECT_EQ(ValidateBuckets("h", {2, 1}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBuckets("h", {1, std::numeric_limits<double>::infinity()}).message(),
            "histogram \"h\": bucket bound inf is not finite; the +Inf bucket is always added, do "
            "not list it");
  EXPECT_EQ(ValidateBuckets("h", {std::nan("")}).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace plumb::metrics
