// Backend-neutral, point-in-time copies of metric values. The Registry produces them at scrape
// time; exposition formats (text_format.h) consume them and never touch live metrics.
#ifndef PLUMB_COMMON_METRICS_METRIC_SNAPSHOT_H_
#define PLUMB_COMMON_METRICS_METRIC_SNAPSHOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace plumb::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// "counter", "gauge" or "histogram": the word the Prometheus # TYPE line uses.
absl::string_view MetricTypeName(MetricType type);

struct HistogramSnapshot {
  std::vector<double> upper_bounds;  // Finite and strictly increasing; the +Inf bucket is implied.
  // upper_bounds.size() + 1 entries: observations <= each bound, then the +Inf bucket, which is
  // the total observation count.
  std::vector<uint64_t> cumulative_counts;
  double sum = 0.0;
};

struct SampleSnapshot {
  std::vector<std::string> label_values;  // Parallel to FamilySnapshot::label_names.
  double value = 0.0;                     // Counters and gauges.
  HistogramSnapshot histogram;            // Histograms only.
};

struct FamilySnapshot {
  std::string name;
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  std::vector<SampleSnapshot> samples;  // Sorted by label values.
};

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_METRIC_SNAPSHOT_H_
