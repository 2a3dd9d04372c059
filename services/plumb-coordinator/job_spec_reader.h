// The coordinator's job-spec adapter: spec text (YAML or JSON) -> plumb.v1.JobSpec -> the
// validated, defaulted JobPlan (job_plan.h) the scheduler runs. No gRPC and no LibTorch here.
//
// Text: YAML (JSON is YAML) is converted to JSON and read by protobuf's JSON parser, so keys are
// the proto's field names (snake_case, or lowerCamel as protobuf's JSON accepts), enum values
// are their names ("STAGE_KIND_ONLINE_RL") and durations are protobuf JSON ("30s").
//
// Errors name the path of the offending key in the spec: "stages[1].training.ppo.clip_range /
// clip_range_low: must be in (0, 1), got -0.2". PlanFromSpec reports every error it finds, joined
// with "; " (at most kMaxSpecErrors, then a count of the rest).
//
// Thread safety: plain functions.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_SPEC_READER_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_SPEC_READER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "plumb/v1/coordinator.pb.h"
#include "services/plumb-coordinator/job_plan.h"

namespace plumb::coordinator {

// Bounds checked before any parsing work.
inline constexpr size_t kMaxSpecTextBytes = size_t{1} << 20;
inline constexpr int kMaxSpecDepth = 64;  // nested YAML/JSON mappings and sequences
inline constexpr int kMaxSpecErrors = 20;

// Spec text -> JobSpec. INVALID_ARGUMENT, prefixed with `source_name` (a file name or e.g.
// "<request>"), for: text over kMaxSpecTextBytes, nesting deeper than kMaxSpecDepth, YAML anchors
// or aliases (refused, so no alias expansion can blow up), tags, duplicate keys, a top level
// that is not a mapping, several documents, non-finite numbers, unknown fields and enum names
// (protobuf's message names the field and its path), enum numbers the proto does not declare.
absl::StatusOr<v1::JobSpec> ParseJobSpecText(absl::string_view text, absl::string_view source_name);

// What the coordinator's configuration allows a spec to name.
struct SpecPolicy {
  // Dataset paths ("builtin:<name>" aside) must resolve inside one of these; relative ones are
  // relative to the first. Empty: every dataset file is refused.
  std::vector<std::string> data_roots;
  // Checkpoint paths and output_dir (on the learner's filesystem, so only checked lexically)
  // must lie inside one of these; relative ones are relative to the first. Empty: refused.
  std::vector<std::string> checkpoint_roots;
  // The coordinator's job root (output_dir's default "<job_root>/<job id>", filled at submit).
  std::string job_root;
  int max_stages = 32;  // at most 32 whatever is configured
};

// Validates the whole spec and applies every documented default. INVALID_ARGUMENT for bad
// values, NOT_FOUND when a dataset file does not exist, UNIMPLEMENTED for training options the
// learner does not implement; with several errors the code is INVALID_ARGUMENT if any is.
absl::StatusOr<JobPlan> PlanFromSpec(const v1::JobSpec& spec, const SpecPolicy& policy);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_SPEC_READER_H_
