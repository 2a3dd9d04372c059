#include "services/plumb-model/tool_status.h"

#include <utility>

#include "absl/strings/cord.h"

namespace plumb::model_tool {
namespace {

constexpr char kUsagePayload[] = "plumb.model_tool/usage";

}  // namespace

absl::Status AsUsageError(absl::Status status) {
  if (!status.ok()) status.SetPayload(kUsagePayload, absl::Cord("1"));
  return status;
}

absl::Status UsageError(absl::string_view message) {
  return AsUsageError(absl::InvalidArgumentError(message));
}

bool IsUsageError(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kUsagePayload).has_value();
}

int ExitCodeFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  return IsUsageError(status) ? kExitUsage : kExitFailure;
}

}  // namespace plumb::model_tool
