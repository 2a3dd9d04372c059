#include "common/metrics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace plumb::metrics {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> FamilyNames(const std::vector<FamilySnapshot>& families) {
  std::vector<std::string> names;
  for (const FamilySnapshot& family : families) names.push_back(family.name);
  return names;
}

const FamilySnapshot* FindFamily(const std::vector<FamilySnapshot>& families,
                                 absl::string_view name) {
  for (const FamilySnapshot& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

TEST(RegistryTest, AddingTheSameDefinitionTwiceReturnsTheSameFamily) {
  Registry registry;
  CounterFamily* first = registry.AddCounter("rpcs_total", "RPCs.", {"method"}).value();
  CounterFamily* second = registry.AddCounter("rpcs_total", "RPCs.", {"method"}).value();
  EXPECT_EQ(first, second);
  HistogramFamily* latency = registry.AddHistogram("latency_seconds", "Latency.").value();
  EXPECT_EQ(registry.AddHistogram("latency_seconds", "Latency.").value(), latency);
}

TEST(RegistryTest, ReusingANameWithAnotherTypeIsAlreadyExists) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("rpcs_total", "RPCs.", {"method"}).ok());
  absl::StatusOr<GaugeFamily*> gauge = registry.AddGauge("rpcs_total", "RPCs.", {"method"});
  EXPECT_EQ(gauge.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(gauge.status().message(),
            "metric \"rpcs_total\" is already registered as a counter with labels [method], help "
            "\"RPCs.\"; cannot register it again as a gauge with labels [method], help \"RPCs.\"");
}

TEST(RegistryTest, ReusingANameWithOtherLabelsHelpOrBucketsIsAlreadyExists) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("rpcs_total", "RPCs.", {"method"}).ok());
  EXPECT_EQ(registry.AddCounter("rpcs_total", "RPCs.", {"method", "code"}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.AddCounter("rpcs_total", "Other help.", {"method"}).status().code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(registry.AddHistogram("latency_seconds", "Latency.", {}, {1, 2}).ok());
  absl::StatusOr<HistogramFamily*> other =
      registry.AddHistogram("latency_seconds", "Latency.", {}, {1, 3});
  EXPECT_EQ(other.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(other.status().message()),
              ::testing::HasSubstr("buckets [1, 2]; cannot register it again as a histogram "
                                   "with labels [], help \"Latency.\", buckets [1, 3]"));
}

TEST(RegistryTest, AMetricMayNotWriteTheSeriesOfAHistogram) {
  Registry registry;
  ASSERT_TRUE(registry.AddHistogram("latency_seconds", "Latency.").ok());
  absl::StatusOr<CounterFamily*> clash = registry.AddCounter("latency_seconds_count", "Count.");
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(clash.status().message(),
            "metric \"latency_seconds_count\" would write series \"latency_seconds_count\", which "
            "metric \"latency_seconds\" (histogram) already writes");
  // The other order clashes too.
  ASSERT_TRUE(registry.AddGauge("size_bytes_sum", "Sum.").ok());
  EXPECT_EQ(registry.AddHistogram("size_bytes", "Sizes.").status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(RegistryTest, InvalidNamesAndLabelsAreRejectedAtRegistration) {
  Registry registry;
  EXPECT_EQ(registry.AddCounter("rpcs-total", "RPCs.").status().message(),
            "metric name \"rpcs-total\" is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*");
  EXPECT_EQ(registry.AddGauge("depth", "Depth.", {"__queue"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddHistogram("h_seconds", "H.", {"a", "a"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(registry.Collect().empty());
}

TEST(RegistryTest, HistogramsMayNotUseTheLeLabel) {
  Registry registry;
  absl::StatusOr<HistogramFamily*> histogram =
      registry.AddHistogram("latency_seconds", "Latency.", {"le"});
  EXPECT_EQ(histogram.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      histogram.status().message(),
      "histogram \"latency_seconds\" may not use the label \"le\": it holds the bucket bound");
  EXPECT_TRUE(registry.AddGauge("temperature", "T.", {"le"}).ok());
}

TEST(RegistryTest, HistogramsWithUnsortedBucketsAreRejected) {
  Registry registry;
  EXPECT_EQ(registry.AddHistogram("latency_seconds", "Latency.", {}, {1, 0.5}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RegistryTest, UnlabelledMetricsAreExportedAsZeroBeforeFirstUse) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("restarts_total", "Restarts.").ok());
  ASSERT_TRUE(registry.AddCounter("rpcs_total", "RPCs.", {"method"}).ok());
  std::vector<FamilySnapshot> families = registry.Collect();
  ASSERT_EQ(families.size(), 2u);
  ASSERT_EQ(FindFamily(families, "restarts_total")->samples.size(), 1u);
  EXPECT_EQ(FindFamily(families, "restarts_total")->samples[0].value, 0);
  EXPECT_TRUE(FindFamily(families, "rpcs_total")->samples.empty());
}

TEST(RegistryTest, CollectSortsFamiliesByNameAndSamplesByLabelValues) {
  Registry registry;
  GaugeFamily* zeta = registry.AddGauge("zeta", "Z.", {"shard"}).value();
  ASSERT_TRUE(registry.AddGauge("alpha", "A.").ok());
  ASSERT_TRUE(registry.AddCounter("mid_total", "M.").ok());
  zeta->WithLabels({"b"}).Set(2);
  zeta->WithLabels({"a"}).Set(1);
  std::vector<FamilySnapshot> families = registry.Collect();
  EXPECT_THAT(FamilyNames(families), ElementsAre("alpha", "mid_total", "zeta"));
  const FamilySnapshot* zeta_snapshot = FindFamily(families, "zeta");
  ASSERT_EQ(zeta_snapshot->samples.size(), 2u);
  EXPECT_THAT(zeta_snapshot->samples[0].label_values, ElementsAre("a"));
  EXPECT_EQ(zeta_snapshot->samples[0].value, 1);
  EXPECT_THAT(zeta_snapshot->samples[1].label_values, ElementsAre("b"));
}

TEST(RegistryTest, CollectorsRunBeforeEverySnapshot) {
  Registry registry;
  Gauge* scrapes = &registry.AddGauge("scrapes", "Scrapes seen.").value()->WithLabels({});
  int runs = 0;
  registry.AddCollector([scrapes, &runs] { scrapes->Set(++runs); });
  EXPECT_EQ(registry.Collect()[0].samples[0].value, 1);
  EXPECT_EQ(registry.Collect()[0].samples[0].value, 2);
  EXPECT_EQ(runs, 2);
}

TEST(RegistryTest, CollectorsMayRegisterFamiliesAndChildren) {
  Registry registry;
  registry.AddCollector([&registry] {
    GaugeFamily* gpus = registry.AddGauge("gpu_memory_bytes", "GPU memory.", {"device"}).value();
    gpus->WithLabels({"0"}).Set(1024);
  });
  std::vector<FamilySnapshot> families = registry.Collect();
  ASSERT_EQ(families.size(), 1u);
  EXPECT_EQ(families[0].samples[0].value, 1024);
}

TEST(RegistryTest, RegistrationUpdatesAndCollectionMayRunConcurrently) {
  Registry registry;
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop) registry.Collect();
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&registry, t] {
      for (int i = 0; i < 200; ++i) {
        CounterFamily* family =
            registry.AddCounter(absl::StrCat("events_", i % 10, "_total"), "Events.", {"worker"})
                .value();
        family->WithLabels({absl::StrCat(t)}).Increment();
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  stop = true;
  scraper.join();
  std::vector<FamilySnapshot> families = registry.Collect();
  ASSERT_EQ(families.size(), 10u);
  for (const FamilySnapshot& family : families) {
    ASSERT_EQ(family.samples.size(), 4u) << family.name;
    for (const SampleSnapshot& sample : family.samples) EXPECT_EQ(sample.value, 20);
  }
}

}  // namespace
}  // namespace plumb::metrics
