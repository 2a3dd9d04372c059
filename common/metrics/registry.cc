#include "common/metrics/registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/metrics/metric_name.h"
#include "common/status/status_macros.h"

namespace plumb::metrics {
namespace {

// The series names a family writes: histograms add the _bucket, _sum and _count suffixes.
std::vector<std::string> SeriesNames(absl::string_view name, MetricType type) {
  if (type != MetricType::kHistogram) return {std::string(name)};
  return {std::string(name), absl::StrCat(name, "_bucket"), absl::StrCat(name, "_sum"),
          absl::StrCat(name, "_count")};
}

}  // namespace

std::string Registry::Describe(const Definition& definition) {
  std::string out = absl::StrCat(MetricTypeName(definition.type), " with labels [",
                                 absl::StrJoin(definition.label_names, ", "), "], help \"",
                                 definition.help, "\"");
  if (definition.type == MetricType::kHistogram) {
    absl::StrAppend(&out, ", buckets [", absl::StrJoin(definition.upper_bounds, ", "), "]");
  }
  return out;
}

bool Registry::SameDefinition(const Definition& a, const Definition& b) {
  return a.type == b.type && a.help == b.help && a.label_names == b.label_names &&
         a.upper_bounds == b.upper_bounds;
}

absl::StatusOr<CounterFamily*> Registry::AddCounter(absl::string_view name, absl::string_view help,
                                                    std::vector<std::string> label_names) {
  ASSIGN_OR_RETURN(
      FamilyBase * family,
      AddFamily(
          {std::string(name), std::string(help), MetricType::kCounter, std::move(label_names), {}},
          [](const Definition& d) {
            return std::unique_ptr<FamilyBase>(new CounterFamily(
                d.name, d.help, d.label_names, [] { return std::make_unique<Counter>(); }));
          }));
  return static_cast<CounterFamily*>(family);
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(absl::string_view name, absl::string_view help,
                                                std::vector<std::string> label_names) {
  ASSIGN_OR_RETURN(
      FamilyBase * family,
      AddFamily(
          {std::string(name), std::string(help), MetricType::kGauge, std::move(label_names), {}},
          [](const Definition& d) {
            return std::unique_ptr<FamilyBase>(new GaugeFamily(
                d.name, d.help, d.label_names, [] { return std::make_unique<Gauge>(); }));
          }));
  return static_cast<GaugeFamily*>(family);
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(absl::string_view name,
                                                        absl::string_view help,
                                                        std::vector<std::string> label_names,
                                                        std::vector<double> upper_bounds) {
  ASSIGN_OR_RETURN(FamilyBase * family,
                   AddFamily({std::string(name), std::string(help), MetricType::kHistogram,
                              std::move(label_names), std::move(upper_bounds)},
                             [](const Definition& d) {
                               auto bounds =
                                   std::make_shared<const std::vector<double>>(d.upper_bounds);
                               return std::unique_ptr<FamilyBase>(new HistogramFamily(
                                   d.name, d.help, d.label_names,
                                   [bounds] { return std::make_unique<Histogram>(bounds); }));
                             }));
  return static_cast<HistogramFamily*>(family);
}

absl::StatusOr<FamilyBase*> Registry::AddFamily(Definition definition,
                                                const FamilyFactory& make_family) {
  RETURN_IF_ERROR(ValidateMetricName(definition.name));
  RETURN_IF_ERROR(ValidateLabelNames(definition.name, definition.label_names));
  if (definition.type == MetricType::kHistogram) {
    if (std::find(definition.label_names.begin(), definition.label_names.end(), "le") !=
        definition.label_names.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram \"", definition.name,
                       "\" may not use the label \"le\": it holds the bucket "
                       "bound"));
    }
    RETURN_IF_ERROR(ValidateBuckets(definition.name, definition.upper_bounds));
  }

  absl::MutexLock lock(&mu_);
  if (auto it = families_.find(definition.name); it != families_.end()) {
    if (SameDefinition(it->second.definition, definition)) return it->second.family.get();
    return absl::AlreadyExistsError(absl::StrCat(
        "metric \"", definition.name, "\" is already registered as a ",
        Describe(it->second.definition), "; cannot register it again as a ", Describe(definition)));
  }
  RETURN_IF_ERROR(CheckSeriesAreFree(definition));
  for (std::string& series : SeriesNames(definition.name, definition.type)) {
    series_owners_.emplace(std::move(series), definition.name);
  }
  std::unique_ptr<FamilyBase> family = make_family(definition);
  FamilyBase* raw = family.get();
  std::string name = definition.name;
  families_.emplace(std::move(name), Entry{std::move(definition), std::move(family)});
  return raw;
}

absl::Status Registry::CheckSeriesAreFree(const Definition& definition) const {
  for (const std::string& series : SeriesNames(definition.name, definition.type)) {
    auto it = series_owners_.find(series);
    if (it == series_owners_.end()) continue;
    return absl::AlreadyExistsError(absl::StrCat(
        "metric \"", definition.name, "\" would write series \"", series, "\", which metric \"",
        it->second, "\" (", MetricTypeName(families_.find(it->second)->second.definition.type),
        ") already writes"));
  }
  return absl::OkStatus();
}

void Registry::AddCollector(Collector collector) {
  absl::MutexLock lock(&collectors_mu_);
  collectors_.push_back(std::move(collector));
}

std::vector<FamilySnapshot> Registry::Collect() const {
  {
    absl::MutexLock lock(&collectors_mu_);
    for (const Collector& collector : collectors_) collector();
  }
  // Families are never removed, so they can be snapshotted without blocking registration.
  std::vector<const FamilyBase*> families;
  {
    absl::MutexLock lock(&mu_);
    families.reserve(families_.size());
    for (const auto& [name, entry] : families_) families.push_back(entry.family.get());
  }
  std::vector<FamilySnapshot> snapshots;
  snapshots.reserve(families.size());
  for (const FamilyBase* family : families) snapshots.push_back(family->Snapshot());
  return snapshots;
}

}  // namespace plumb::metrics
