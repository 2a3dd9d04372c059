// How plumb-model turns an absl::Status into an exit code. A command returns one Status type
// throughout; errors caused by the command line itself (a flag value out of range, a token id
// outside the vocabulary) are marked as usage errors so scripts can tell "called wrongly" (2)
// from "could not do it" (1).
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_TOOL_STATUS_H_
#define PLUMB_SERVICES_PLUMB_MODEL_TOOL_STATUS_H_

#include "absl/status/status.h"

namespace plumb::model_tool {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// `status` (not OK) marked as the caller's mistake; OK stays OK.
absl::Status AsUsageError(absl::Status status);
// An INVALID_ARGUMENT usage error with `message`.
absl::Status UsageError(absl::string_view message);
bool IsUsageError(const absl::Status& status);

// 0 for OK, kExitUsage for usage errors, kExitFailure otherwise.
int ExitCodeFor(const absl::Status& status);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_TOOL_STATUS_H_
