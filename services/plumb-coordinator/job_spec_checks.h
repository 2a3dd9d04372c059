// Internal to plumb_coordinator_spec: the error list PlanFromSpec fills (every error, each naming
// its path in the spec), the confinement of the paths a spec names to the configured roots, and
// the readers of a stage's settings (job_spec_settings.cc).
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_SPEC_CHECKS_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_SPEC_CHECKS_H_

#include <google/protobuf/duration.pb.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/plumb-coordinator/job_spec_reader.h"

namespace plumb::coordinator::spec_internal {

inline constexpr size_t kMaxSpecNameBytes = 64;  // stage names, objectives
inline constexpr int kMaxCount = 1000000;        // rounds, checkpoint_every, every, ...
inline constexpr int kMaxObjectives = 16;        // objective lists

class SpecErrors;

// "prefix.field" and "prefix[i]".
std::string At(const std::string& prefix, const std::string& field);
std::string Index(const std::string& prefix, int i);
// Errors unless `name` is 1..max bytes of [A-Za-z0-9._-].
void CheckName(const std::string& path, const std::string& name, size_t max, SpecErrors* e);
// Errors when `s` is longer than `max` bytes.
void CheckBytes(const std::string& path, const std::string& s, size_t max, SpecErrors* e);
// A non-negative duration of at most a year; `unset` for 0 (or absent), and after an error.
absl::Duration DurationOf(const std::string& path, const google::protobuf::Duration& d,
                          absl::Duration unset, SpecErrors* e);

class SpecErrors {
 public:
  // "<path>: <message>" with `code`.
  void Add(absl::StatusCode code, const std::string& path, const std::string& message);
  void Invalid(const std::string& path, const std::string& message) {
    Add(absl::StatusCode::kInvalidArgument, path, message);
  }
  // A status whose message already names its path.
  void AddStatus(const absl::Status& status);
  // Invalid(path, "must be in [min, max], got v") unless min <= v <= max; returns whether it is.
  bool InRange(const std::string& path, int64_t value, int64_t min, int64_t max);

  bool empty() const { return errors_.empty(); }
  // OK when empty; else the messages joined with "; " (at most kMaxSpecErrors), with
  // INVALID_ARGUMENT when any error is one, else the first error's code.
  absl::Status ToStatus() const;

 private:
  std::vector<std::pair<absl::StatusCode, std::string>> errors_;
};

// Confines paths to SpecPolicy's roots. Roots are normalised once, lexically and through
// realpath (when they exist).
class PathRules {
 public:
  explicit PathRules(const SpecPolicy& policy);

  // A dataset path: "builtin:<name>" as is; otherwise lexically inside a data root (relative to
  // the first), existing (NOT_FOUND otherwise) and still inside a data root once symlinks are
  // resolved. Returns the resolved absolute path, or "" after adding an error.
  std::string Dataset(const std::string& field, const std::string& value, SpecErrors* errors) const;
  // A checkpoint path or output directory on the learner's filesystem: empty stays empty;
  // otherwise lexically normalised inside a checkpoint root (relative to the first). Returns the
  // normalised path, or "" after adding an error.
  std::string Checkpoint(const std::string& field, const std::string& value,
                         SpecErrors* errors) const;
  // A path the coordinator itself reads on the checkpoint filesystem (a tokenizer): Checkpoint's
  // rules, and it must exist (NOT_FOUND) and stay inside a checkpoint root through symlinks.
  // Returns the resolved path, or "" after adding an error.
  std::string ReadableCheckpoint(const std::string& field, const std::string& value,
                                 SpecErrors* errors) const;

 private:
  std::vector<std::filesystem::path> data_roots_;       // lexically normal, absolute
  std::vector<std::filesystem::path> data_roots_real_;  // through realpath where they exist
  std::vector<std::filesystem::path> checkpoint_roots_;
  std::vector<std::filesystem::path> checkpoint_roots_real_;
};

// A stage's settings with the proto's defaults ("0 = 64"); errors name `path`'s fields.
generator::SamplingRequest SamplingFromSpec(const std::string& path, const v1::SamplingParams& p,
                                            SpecErrors* e);
ScoringPlan ScoringFromSpec(const std::string& path, const v1::ScoringSettings& s, SpecErrors* e);
SchedulingPlan SchedulingFromSpec(const std::string& path, const v1::SchedulingSettings& s,
                                  bool online, SpecErrors* e);

}  // namespace plumb::coordinator::spec_internal

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_SPEC_CHECKS_H_
