// A value that only goes up: requests served, tokens generated, CPU seconds used.
//
// Thread safety: every method is lock-free and may be called from any thread. Updates use relaxed
// atomics, so a concurrent Value() sees each update whole but in no promised order.
#ifndef PLUMB_COMMON_METRICS_COUNTER_H_
#define PLUMB_COMMON_METRICS_COUNTER_H_

#include <atomic>

#include "common/metrics/metric_snapshot.h"

namespace plumb::metrics {

class Counter {
 public:
  static constexpr MetricType kType = MetricType::kCounter;

  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `amount`. Negative and NaN amounts are ignored rather than reported: a counter that went
  // down would look like a process restart to Prometheus' rate(), and the hot path has no place
  // to return an error.
  void Increment(double amount = 1.0) {
    if (!(amount >= 0.0)) return;
    value_.fetch_add(amount, std::memory_order_relaxed);
  }

  // Raises the value to `total` when `total` is larger and leaves it alone otherwise. For
  // collectors that mirror a running total kept elsewhere, such as CPU time from /proc.
  void AdvanceTo(double total) {
    double current = value_.load(std::memory_order_relaxed);
    while (total > current &&
           !value_.compare_exchange_weak(current, total, std::memory_order_relaxed)) {
    }
  }

  double Value() const { return value_.load(std::memory_order_relaxed); }

  void Snapshot(SampleSnapshot* sample) const { sample->value = Value(); }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_COUNTER_H_
