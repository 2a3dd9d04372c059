// Token id lists on the command line: "--prompt-ids 1,2,3".
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_ID_LIST_H_
#define PLUMB_SERVICES_PLUMB_MODEL_ID_LIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace plumb::model_tool {

// Parses comma-separated integers (spaces around them allowed). An empty string is an empty
// list. A malformed entry is a usage error naming `flag` and the entry.
absl::StatusOr<std::vector<int64_t>> ParseIdList(absl::string_view text, absl::string_view flag);

// "1,2,3": the form ParseIdList reads, so printed ids can be pasted back into a command.
std::string FormatIdList(absl::Span<const int64_t> ids);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_ID_LIST_H_
