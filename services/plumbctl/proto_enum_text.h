// Proto enum values as plumbctl shows and accepts them: the value name without the enum's prefix
// ("JOB_STATE_RUNNING" is shown as RUNNING; "running", "RUNNING" and "JOB_STATE_RUNNING" are
// accepted). One function pair for every enum (JobState, JobKind, WorkerRole, ...).
#ifndef PLUMB_SERVICES_PLUMBCTL_PROTO_ENUM_TEXT_H_
#define PLUMB_SERVICES_PLUMBCTL_PROTO_ENUM_TEXT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class EnumDescriptor;
}

namespace plumb::plumbctl {

// The short name of `value` ("RUNNING"); the number itself for a value this build does not know
// (a newer server).
std::string EnumText(const google::protobuf::EnumDescriptor* descriptor, int value);

// The value named by `text`, case-insensitive, with or without the prefix. INVALID_ARGUMENT
// naming `flag` and listing the accepted names; the UNSPECIFIED value is not accepted.
absl::StatusOr<int> ParseEnumText(const google::protobuf::EnumDescriptor* descriptor,
                                  absl::string_view text, absl::string_view flag);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_PROTO_ENUM_TEXT_H_
