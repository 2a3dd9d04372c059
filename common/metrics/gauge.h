// A value that goes up and down: queue depth, bytes resident, policy version being served.
//
// Thread safety: every method is lock-free and may be called from any thread.
#ifndef PLUMB_COMMON_METRICS_GAUGE_H_
#define PLUMB_COMMON_METRICS_GAUGE_H_

#include <atomic>

#include "common/metrics/metric_snapshot.h"

namespace plumb::metrics {

class Gauge {
 public:
  static constexpr MetricType kType = MetricType::kGauge;

  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Increment(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Decrement(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

  void Snapshot(SampleSnapshot* sample) const { sample->value = Value(); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_GAUGE_H_
