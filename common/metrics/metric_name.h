// Checks metric and label names against the Prometheus data model, so that a bad name fails at
// registration with a message that names it instead of breaking every scrape later.
#ifndef PLUMB_COMMON_METRICS_METRIC_NAME_H_
#define PLUMB_COMMON_METRICS_METRIC_NAME_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace plumb::metrics {

// OK when `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*; InvalidArgument otherwise.
absl::Status ValidateMetricName(absl::string_view name);

// OK when `label` matches [a-zA-Z_][a-zA-Z0-9_]* and does not start with "__" (reserved for
// Prometheus itself); InvalidArgument otherwise. `metric` only feeds the error message.
absl::Status ValidateLabelName(absl::string_view metric, absl::string_view label);

// Validates every label name of `metric` and rejects duplicates.
absl::Status ValidateLabelNames(absl::string_view metric, const std::vector<std::string>& labels);

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_METRIC_NAME_H_
