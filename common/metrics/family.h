// A metric family: one name, help text and list of label names, with one child metric (Counter,
// Gauge or Histogram) per distinct tuple of label values. Families are created by Registry.
//
// Thread safety: all methods may be called from any thread. Looking a child up takes the family's
// mutex (shared on a hit); updating a child is lock-free. Hot paths should look a child up once
// and keep the reference, which stays valid for as long as the Registry lives.
#ifndef PLUMB_COMMON_METRICS_FAMILY_H_
#define PLUMB_COMMON_METRICS_FAMILY_H_

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/metrics/counter.h"
#include "common/metrics/gauge.h"
#include "common/metrics/histogram.h"
#include "common/metrics/metric_snapshot.h"

namespace plumb::metrics {

class Registry;

// Orders label-value tuples so that a lookup by string_views needs no allocation.
struct LabelValuesLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](absl::string_view x, absl::string_view y) { return x < y; });
  }
};

// The type-independent part of a family, which the Registry stores and snapshots.
class FamilyBase {
 public:
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual MetricType type() const = 0;

  // Copies every child's current values, sorted by label values.
  virtual FamilySnapshot Snapshot() const = 0;

 protected:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names);

  // InvalidArgument unless there is exactly one value per label name.
  absl::Status CheckLabelCount(absl::Span<const absl::string_view> label_values) const;

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  // The child for `label_values` (one per label name, in order), created on first use. A wrong
  // number of values is a programming error and aborts the process with a message naming the
  // family; use TryWithLabels when the values come from outside the program.
  T& WithLabels(absl::Span<const absl::string_view> label_values) ABSL_LOCKS_EXCLUDED(mu_);

  // Like WithLabels, but a wrong number of values returns InvalidArgument.
  absl::StatusOr<T*> TryWithLabels(absl::Span<const absl::string_view> label_values)
      ABSL_LOCKS_EXCLUDED(mu_);

  MetricType type() const override { return T::kType; }
  FamilySnapshot Snapshot() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class Registry;
  using ChildFactory = std::function<std::unique_ptr<T>()>;

  Family(std::string name, std::string help, std::vector<std::string> label_names,
         ChildFactory make_child);

  T& FindOrCreate(absl::Span<const absl::string_view> label_values) ABSL_LOCKS_EXCLUDED(mu_);

  const ChildFactory make_child_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>, LabelValuesLess> children_
      ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Reports a WithLabels() call with the wrong number of values and aborts.
[[noreturn]] void DieOnLabelCount(const absl::Status& status);

template <typename T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  ChildFactory make_child)
    : FamilyBase(std::move(name), std::move(help), std::move(label_names)),
      make_child_(std::move(make_child)) {
  // An unlabelled metric exists from registration, so it is exported as 0 before its first use.
  if (this->label_names().empty()) FindOrCreate({});
}

template <typename T>
T& Family<T>::WithLabels(absl::Span<const absl::string_view> label_values) {
  if (absl::Status status = CheckLabelCount(label_values); !status.ok()) DieOnLabelCount(status);
  return FindOrCreate(label_values);
}

template <typename T>
absl::StatusOr<T*> Family<T>::TryWithLabels(absl::Span<const absl::string_view> label_values) {
  if (absl::Status status = CheckLabelCount(label_values); !status.ok()) return status;
  return &FindOrCreate(label_values);
}

template <typename T>
T& Family<T>::FindOrCreate(absl::Span<const absl::string_view> label_values) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = children_.find(label_values);
    if (it != children_.end()) return *it->second;
  }
  absl::MutexLock lock(&mu_);
  auto it = children_.find(label_values);
  if (it == children_.end()) {
    it = children_
             .emplace(std::vector<std::string>(label_values.begin(), label_values.end()),
                      make_child_())
             .first;
  }
  return *it->second;
}

template <typename T>
FamilySnapshot Family<T>::Snapshot() const {
  FamilySnapshot snapshot;
  snapshot.name = name();
  snapshot.help = help();
  snapshot.type = T::kType;
  snapshot.label_names = label_names();
  absl::ReaderMutexLock lock(&mu_);
  snapshot.samples.reserve(children_.size());
  for (const auto& [label_values, child] : children_) {
    SampleSnapshot& sample = snapshot.samples.emplace_back();
    sample.label_values = label_values;
    child->Snapshot(&sample);
  }
  return snapshot;
}

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_FAMILY_H_
