// A distribution of observations (latencies, batch sizes) counted into fixed buckets, exported as
// Prometheus' cumulative _bucket{le=...}, _sum and _count series.
//
// Thread safety: Observe() and the readers are lock-free and may be called from any thread. A
// reader racing with Observe() may see the bucket counts and the sum of slightly different
// moments; the +Inf bucket and the count always agree because the count is derived from buckets.
#ifndef PLUMB_COMMON_METRICS_HISTOGRAM_H_
#define PLUMB_COMMON_METRICS_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/metrics/metric_snapshot.h"

namespace plumb::metrics {

// Request latency buckets in seconds, 5 ms to 2 min: Prometheus' usual 5 ms..10 s, extended
// because a long generation or a training step routinely takes tens of seconds.
std::vector<double> DefaultLatencyBuckets();

// `count` bounds start, start*factor, start*factor^2, ...; for sizes such as tokens per request.
// InvalidArgument unless start > 0, factor > 1 and count >= 1.
absl::StatusOr<std::vector<double>> ExponentialBuckets(double start, double factor, int count);

// OK when the bounds are finite and strictly increasing (an empty list leaves only +Inf).
// `metric` only feeds the error message.
absl::Status ValidateBuckets(absl::string_view metric, absl::Span<const double> upper_bounds);

class Histogram {
 public:
  static constexpr MetricType kType = MetricType::kHistogram;

  // `upper_bounds` must pass ValidateBuckets (Registry::AddHistogram checks it); children of one
  // family share it.
  explicit Histogram(std::shared_ptr<const std::vector<double>> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `value` in the first bucket whose bound is >= value (Prometheus' "le"), or in +Inf.
  // NaN is ignored: it would turn the sum into NaN for the rest of the process' life.
  void Observe(double value);

  uint64_t Count() const;
  double Sum() const;
  void Snapshot(SampleSnapshot* sample) const;

 private:
  const std::shared_ptr<const std::vector<double>> upper_bounds_;
  // One per bound plus +Inf; not cumulative, so Observe() touches a single counter.
  const std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;
  std::atomic<double> sum_{0.0};
};

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_HISTOGRAM_H_
