// Reading a job spec file on the client, so `plumbctl submit` reports a malformed spec before any
// RPC: the file's text goes through the coordinator's own reader (ParseJobSpecText in
// services/plumb-coordinator/job_spec_reader.h: YAML -> JSON -> protobuf's JSON parser), the one
// implementation of that conversion.
#ifndef PLUMB_SERVICES_PLUMBCTL_JOB_SPEC_FILE_H_
#define PLUMB_SERVICES_PLUMBCTL_JOB_SPEC_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "plumb/v1/coordinator.pb.h"

namespace plumb::plumbctl {

// NOT_FOUND for a missing file; INVALID_ARGUMENT naming the file for a file over the reader's
// size limit, invalid YAML/JSON, an unknown field or a value of the wrong type.
absl::StatusOr<v1::JobSpec> LoadJobSpecFile(const std::string& path);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_JOB_SPEC_FILE_H_
