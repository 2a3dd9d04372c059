#include "common/metrics/metric_name.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace plumb::metrics {
namespace {

bool IsAsciiLetterOrUnderscore(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::Status ValidateMetricName(absl::string_view name) {
  bool valid = !name.empty() && (IsAsciiLetterOrUnderscore(name[0]) || name[0] == ':');
  for (size_t i = 1; valid && i < name.size(); ++i) {
    const char c = name[i];
    valid = IsAsciiLetterOrUnderscore(c) || IsAsciiDigit(c) || c == ':';
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "metric name \"", name, "\" is invalid: it must match [a-zA-Z_:][a-zA-Z0-9_:]*"));
}

absl::Status ValidateLabelName(absl::string_view metric, absl::string_view label) {
  bool valid = !label.empty() && IsAsciiLetterOrUnderscore(label[0]);
  for (size_t i = 1; valid && i < label.size(); ++i) {
    valid = IsAsciiLetterOrUnderscore(label[i]) || IsAsciiDigit(label[i]);
  }
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat("label name \"", label, "\" of metric \"",
                                                   metric,
                                                   "\" is invalid: it must match "
                                                   "[a-zA-Z_][a-zA-Z0-9_]*"));
  }
  if (label.substr(0, 2) == "__") {
    return absl::InvalidArgumentError(absl::StrCat("label name \"", label, "\" of metric \"",
                                                   metric,
                                                   "\" is reserved: names starting with \"__\" "
                                                   "belong to Prometheus"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelNames(absl::string_view metric, const std::vector<std::string>& labels) {
  absl::flat_hash_set<absl::string_view> seen;
  for (const std::string& label : labels) {
    if (absl::Status status = ValidateLabelName(metric, label); !status.ok()) return status;
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("label name \"", label, "\" appears twice in metric \"", metric, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace plumb::metrics
