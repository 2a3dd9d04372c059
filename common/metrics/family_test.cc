// Counter, Gauge and Family semantics, exercised through a Registry (which creates families).
#include "common/metrics/family.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/metrics/registry.h"

namespace plumb::metrics {
namespace {

TEST(CounterTest, NegativeAndNanIncrementsAreIgnored) {
  Counter counter;
  counter.Increment();
  counter.Increment(2.5);
  counter.Increment(-10);
  counter.Increment(std::numeric_limits<double>::quiet_NaN());
  EXPECT_DOUBLE_EQ(counter.Value(), 3.5);
}

TEST(CounterTest, AdvanceToRaisesButNeverLowersTheValue) {
  Counter counter;
  counter.AdvanceTo(10);
  EXPECT_DOUBLE_EQ(counter.Value(), 10);
  counter.AdvanceTo(4);
  EXPECT_DOUBLE_EQ(counter.Value(), 10);
  counter.AdvanceTo(std::numeric_limits<double>::quiet_NaN());
  EXPECT_DOUBLE_EQ(counter.Value(), 10);
}

TEST(GaugeTest, MovesBothWaysAndCanBeSet) {
  Gauge gauge;
  gauge.Increment(5);
  gauge.Decrement(2);
  EXPECT_DOUBLE_EQ(gauge.Value(), 3);
  gauge.Set(-7.5);
  EXPECT_DOUBLE_EQ(gauge.Value(), -7.5);
}

TEST(FamilyTest, TheSameLabelValuesReturnTheSameChild) {
  Registry registry;
  CounterFamily* rpcs = registry.AddCounter("rpcs_total", "RPCs.", {"method", "code"}).value();
  Counter& first = rpcs->WithLabels({"Generate", "OK"});
  std::string method = "Generate";
  Counter& again = rpcs->WithLabels({method, "OK"});
  Counter& other = rpcs->WithLabels({"Generate", "INTERNAL"});
  EXPECT_EQ(&first, &again);
  EXPECT_NE(&first, &other);
  first.Increment();
  EXPECT_DOUBLE_EQ(again.Value(), 1);
  EXPECT_DOUBLE_EQ(other.Value(), 0);
}

TEST(FamilyTest, TryWithLabelsReportsAWrongNumberOfValues) {
  Registry registry;
  CounterFamily* rpcs = registry.AddCounter("rpcs_total", "RPCs.", {"method", "code"}).value();
  absl::StatusOr<Counter*> child = rpcs->TryWithLabels({"Generate"});
  EXPECT_EQ(child.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(child.status().message(),
            "metric \"rpcs_total\" has 2 label(s) [method, code] but got 1 value(s) [Generate]");
  EXPECT_TRUE(rpcs->TryWithLabels({"Generate", "OK"}).ok());
}

TEST(FamilyDeathTest, WithLabelsAbortsOnAWrongNumberOfValues) {
  Registry registry;
  GaugeFamily* depth = registry.AddGauge("queue_depth", "Depth.", {"queue"}).value();
  EXPECT_DEATH(depth->WithLabels({"a", "b"}), "metric \"queue_depth\" has 1 label");
}

TEST(FamilyTest, ConcurrentIncrementsFromManyThreadsAddUpExactly) {
  Registry registry;
  CounterFamily* rpcs = registry.AddCounter("rpcs_total", "RPCs.", {"method"}).value();
  constexpr int kThreads = 8;
  constexpr int kIncrementsPerThread = 50000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([rpcs, t] {
      // Half the threads look the child up every time, to race creation against updates.
      Counter& cached = rpcs->WithLabels({"Generate"});
      for (int i = 0; i < kIncrementsPerThread; ++i) {
        if (t % 2 == 0) {
          cached.Increment();
        } else {
          rpcs->WithLabels({"Generate"}).Increment();
        }
        rpcs->WithLabels({absl::StrCat("Shard", i % 4)}).Increment();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_DOUBLE_EQ(rpcs->WithLabels({"Generate"}).Value(), kThreads * kIncrementsPerThread);
  for (int shard = 0; shard < 4; ++shard) {
    EXPECT_DOUBLE_EQ(rpcs->WithLabels({absl::StrCat("Shard", shard)}).Value(),
                     kThreads * kIncrementsPerThread / 4);
  }
}

TEST(FamilyTest, ConcurrentObservationsAreAllCounted) {
  Registry registry;
  HistogramFamily* latency =
      registry.AddHistogram("latency_seconds", "Latency.", {}, {0.5, 1}).value();
  Histogram& histogram = latency->WithLabels({});
  constexpr int kThreads = 4;
  constexpr int kObservationsPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&histogram] {
      for (int i = 0; i < kObservationsPerThread; ++i) histogram.Observe(i % 2 == 0 ? 0.25 : 2.0);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(histogram.Count(), static_cast<uint64_t>(kThreads * kObservationsPerThread));
  EXPECT_DOUBLE_EQ(histogram.Sum(), kThreads * kObservationsPerThread / 2 * 2.25);
}

}  // namespace
}  // namespace plumb::metrics
