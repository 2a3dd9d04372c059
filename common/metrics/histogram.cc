#include "common/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace plumb::metrics {

std::vector<double> DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
}

absl::StatusOr<std::vector<double>> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("exponential buckets need start > 0, factor > 1 "
                     "and count >= 1; got start=",
                     start, " factor=", factor, " count=", count));
  }
  std::vector<double> bounds;
  bounds.reserve(count);
  for (double bound = start; static_cast<int>(bounds.size()) < count; bound *= factor) {
    bounds.push_back(bound);
  }
  if (!std::isfinite(bounds.back())) {
    return absl::InvalidArgumentError(absl::StrCat("exponential buckets overflow: start=", start,
                                                   " factor=", factor, " count=", count));
  }
  return bounds;
}

absl::Status ValidateBuckets(absl::string_view metric, absl::Span<const double> upper_bounds) {
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram \"", metric, "\": bucket bound ", upper_bounds[i],
                       " is not finite; the +Inf bucket is always added, do not list it"));
    }
    if (i > 0 && !(upper_bounds[i] > upper_bounds[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram \"", metric, "\": bucket bounds must be strictly increasing, but ",
          upper_bounds[i], " follows ", upper_bounds[i - 1]));
    }
  }
  return absl::OkStatus();
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_->size() + 1)) {}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  const std::vector<double>& bounds = *upper_bounds_;
  const size_t bucket = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

uint64_t Histogram::Count() const {
  uint64_t count = 0;
  for (size_t i = 0; i <= upper_bounds_->size(); ++i) {
    count += bucket_counts_[i].load(std::memory_order_relaxed);
  }
  return count;
}

double Histogram::Sum() const { return sum_.load(std::memory_order_relaxed); }

void Histogram::Snapshot(SampleSnapshot* sample) const {
  HistogramSnapshot& out = sample->histogram;
  out.upper_bounds = *upper_bounds_;
  out.cumulative_counts.resize(upper_bounds_->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_->size(); ++i) {
    running += bucket_counts_[i].load(std::memory_order_relaxed);
    out.cumulative_counts[i] = running;
  }
  out.sum = Sum();
}

}  // namespace plumb::metrics
