#include "common/metrics/family.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::metrics {

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

absl::Status FamilyBase::CheckLabelCount(absl::Span<const absl::string_view> label_values) const {
  if (label_values.size() == label_names_.size()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("metric \"", name_, "\" has ", label_names_.size(),
                                                 " label(s) [", absl::StrJoin(label_names_, ", "),
                                                 "] but got ", label_values.size(), " value(s) [",
                                                 absl::StrJoin(label_values, ", "), "]"));
}

void DieOnLabelCount(const absl::Status& status) {
  std::fprintf(stderr, "plumb metrics: WithLabels: %s\n", std::string(status.message()).c_str());
  std::abort();
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

}  // namespace plumb::metrics
