// The coordinator's durable records, as plain structs (no protos): what JobStore keeps and what
// GetJob / ListJobs / WatchJob answer from. Field meanings follow proto/plumb/v1/coordinator.proto
// (Job, JobStatus, JobEvent); enum-valued fields hold the proto's numbers.
//
// Times: absl::InfinitePast() means "not set" (a job not started yet has no start_time); stored
// times keep microseconds.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RECORDS_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace plumb::coordinator {

// plumb.v1.JobState, same numbers.
enum class JobState : int {
  kUnspecified = 0,
  kQueued = 1,
  kRunning = 2,
  kSucceeded = 3,
  kFailed = 4,
  kCancelled = 5,
};
inline constexpr int kMaxJobStateValue = 5;

bool IsTerminal(JobState state);
// "QUEUED", "RUNNING", ...; "JobState(7)" for a value outside the enum.
std::string JobStateName(JobState state);

using MetricMap = std::map<std::string, double>;
using LabelMap = std::map<std::string, std::string>;

// JobStatus. create_time, update_time, last_event_sequence and latest_checkpoint are kept by the
// store (from CreateJob, the events and the checkpoints recorded): values a caller writes there
// are ignored.
struct JobStatusRecord {
  JobState state = JobState::kQueued;
  bool cancel_requested = false;
  int32_t stage_index = 0;
  std::string stage_name;
  int32_t iteration = 0;
  int32_t round = 0;
  double progress = 0;  // [0, 1]
  absl::Time create_time = absl::InfinitePast();
  absl::Time start_time = absl::InfinitePast();
  absl::Time end_time = absl::InfinitePast();
  absl::Time update_time = absl::InfinitePast();
  std::string last_error;  // cut to kMaxFreeTextBytes when stored
  int32_t last_error_code = 0;
  MetricMap metrics;  // NaN and infinities are kept as such
  uint64_t policy_version = 0;
  std::string latest_checkpoint;
  int32_t retries = 0;
  uint64_t seed = 0;
  uint64_t last_event_sequence = 0;
};

struct JobRecord {
  std::string job_id;  // empty at CreateJob: the store assigns one ("job-" + 16 hex digits)
  std::string owner;   // the user who submitted it (access control)
  std::string name;
  int kind = 0;  // plumb.v1.JobKind
  int32_t priority = 0;
  LabelMap labels;
  std::string idempotency_key;  // empty: no de-duplication
  std::string spec_hash;        // identifies the spec for idempotent resubmission
  std::string spec;             // the serialized JobSpec: opaque bytes to the store
  absl::Time deadline = absl::InfiniteFuture();  // the whole job's; InfiniteFuture = none
  int32_t max_retries = 0;
  JobStatusRecord status;
};

// JobEvent. `payload` is opaque (e.g. a serialized TrainStats for TRAIN_STEP events).
struct EventRecord {
  std::string job_id;
  uint64_t sequence = 0;                    // assigned by the store: 1-based, contiguous per job
  absl::Time time = absl::InfinitePast();   // InfinitePast: the store stamps the commit time
  int type = 0;                             // plumb.v1.JobEventType
  JobState state = JobState::kUnspecified;  // set by the store: the job's state after the event
  int32_t stage_index = 0;
  std::string stage_name;
  int32_t iteration = 0;
  int32_t round = 0;
  std::string message;  // cut to kMaxFreeTextBytes when stored
  MetricMap metrics;
  int32_t error_code = 0;
  std::string worker_id;
  std::string payload;
};

// Where a job is: stages run in order within an iteration, iterations in order.
// Records of one job are ordered by (iteration, stage_index, round).
struct RoundRecord {
  std::string job_id;
  int32_t stage_index = 0;
  int32_t iteration = 0;
  int32_t round = 0;
  absl::Time completed_time = absl::InfinitePast();  // InfinitePast: the store stamps now
  std::string checkpoint_path;                       // empty: no checkpoint at this round
  uint64_t policy_version = 0;
  MetricMap metrics;
};

// One stage of one iteration of a job: started, and finished once end_time is set.
struct StageRecord {
  std::string job_id;
  int32_t stage_index = 0;
  int32_t iteration = 0;
  std::string name;
  absl::Time start_time = absl::InfinitePast();
  absl::Time end_time = absl::InfinitePast();  // InfinitePast: not finished
  std::string output_checkpoint;
  MetricMap metrics;
};

// A worker held by a job (its learner ranks, generators, references). A worker has at most one.
struct LeaseRecord {
  std::string job_id;
  std::string worker_id;
  int role = 0;  // plumb.v1.WorkerRole
  std::string endpoint;
  absl::Time acquired_time = absl::InfinitePast();  // InfinitePast: the store stamps now
};

struct CheckpointRecord {
  std::string job_id;
  int32_t stage_index = 0;
  int32_t iteration = 0;
  int32_t round = 0;
  std::string path;
  absl::Time time = absl::InfinitePast();  // InfinitePast: the store stamps now
};

// Bounds the store enforces (INVALID_ARGUMENT naming the field), except free text (event
// messages, last_error), which is cut to kMaxFreeTextBytes on a UTF-8 boundary instead, so that
// a long error never costs the event that reports it.
inline constexpr size_t kMaxJobIdBytes = 128;
inline constexpr size_t kMaxOwnerBytes = 256;
inline constexpr size_t kMaxJobNameBytes = 128;
inline constexpr size_t kMaxIdempotencyKeyBytes = 128;
inline constexpr size_t kMaxSpecHashBytes = 128;
inline constexpr size_t kMaxSpecBytes = size_t{16} << 20;
inline constexpr size_t kMaxLabels = 16;
inline constexpr size_t kMaxLabelKeyBytes = 64;
inline constexpr size_t kMaxLabelValueBytes = 256;
inline constexpr size_t kMaxStageNameBytes = 128;
inline constexpr size_t kMaxFreeTextBytes = 4096;
inline constexpr size_t kMaxMetrics = 256;
inline constexpr size_t kMaxMetricNameBytes = 128;
inline constexpr size_t kMaxPayloadBytes = size_t{1} << 20;
inline constexpr size_t kMaxWorkerIdBytes = 128;
inline constexpr size_t kMaxEndpointBytes = 512;
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxLeasesPerCall = 1024;

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RECORDS_H_
