// Reading a job spec file on the client, so `plumbctl submit` reports a malformed spec before any
// RPC. The file is JSON, or YAML whose keys are the proto's field names; YAML is converted to JSON
// and both go through protobuf's JSON parser (no hand-written field mapping).
//
// MERGE NOTE: the coordinator's reader (services/plumb-coordinator/job_spec_reader.h,
// ParseJobSpecText in plumb_coordinator_spec) is the one implementation of this conversion; once
// it is merged, LoadJobSpecFile should read the file and call it, and the YAML walk in
// job_spec_file.cc goes away.
#ifndef PLUMB_SERVICES_PLUMBCTL_JOB_SPEC_FILE_H_
#define PLUMB_SERVICES_PLUMBCTL_JOB_SPEC_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "plumb/v1/coordinator.pb.h"

namespace plumb::plumbctl {

// Spec files larger than this are refused before parsing.
inline constexpr size_t kMaxJobSpecFileBytes = size_t{4} << 20;

// NOT_FOUND for a missing file; INVALID_ARGUMENT naming the file for invalid YAML/JSON, an
// unknown field or a value of the wrong type.
absl::StatusOr<v1::JobSpec> LoadJobSpecFile(const std::string& path);

// The same, on text already read; `source` names it in errors.
absl::StatusOr<v1::JobSpec> ParseJobSpecFileText(const std::string& text,
                                                 const std::string& source);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_JOB_SPEC_FILE_H_
