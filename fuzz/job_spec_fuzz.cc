// Job spec text (YAML or JSON, as SubmitJob's spec_text and plumbctl's files carry it) ->
// plumb.v1.JobSpec through the coordinator's reader: the YAML event walk, the JSON it writes, and
// protobuf's JSON parser; then the value and enum checks every spec passes before validation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/rpc/message_checks.h"
#include "services/plumb-coordinator/job_spec_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<plumb::v1::JobSpec> spec = plumb::coordinator::ParseJobSpecText(text, "spec.yaml");
  if (spec.ok()) (void)plumb::rpc::CheckMessageValues(*spec, "spec");
  return 0;
}
