// Metric and label maps as the JSON objects the state database keeps. Non-finite metric values
// are kept as the strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers), so a NaN
// loss reads back as NaN. Keys must be valid UTF-8.
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_RECORD_JSON_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_RECORD_JSON_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "services/plumb-coordinator/job_records.h"

namespace plumb::coordinator {

// INVALID_ARGUMENT "<field>: ... not valid UTF-8" for a key (or label value) that is not.
absl::StatusOr<std::string> EncodeMetrics(const MetricMap& metrics, absl::string_view field);
absl::StatusOr<std::string> EncodeLabels(const LabelMap& labels, absl::string_view field);

// DATA_LOSS "<source>: ..." when the stored text is not such an object (a damaged database).
absl::StatusOr<MetricMap> DecodeMetrics(absl::string_view text, absl::string_view source);
absl::StatusOr<LabelMap> DecodeLabels(absl::string_view text, absl::string_view source);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_RECORD_JSON_H_
