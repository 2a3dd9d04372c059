// JobStore: the coordinator's durable state in one SQLite file (WAL) — jobs with their spec and
// status, each job's events, its stages, completed rounds, checkpoints, and the workers it
// leases. A coordinator killed at any moment and restarted finds every committed write and no
// part of an uncommitted one: each call below is one transaction, and AppendEvent commits an
// event together with everything it reports (the job's new status, a completed round, a
// checkpoint, a stage), so status, events and rounds never disagree after a crash.
//
// Thread safety: every method may be called from any thread. The store holds one SQLite
// connection behind one mutex, so calls run one at a time (writes are serialised by SQLite
// anyway; reads are short). The event listener runs after the commit, outside the mutex.
//
// Errors common to every method: INVALID_ARGUMENT a record or argument out of bounds (the
// message names the field, e.g. "event.metrics: 300 entries; at most 256"); NOT_FOUND an unknown
// job; RESOURCE_EXHAUSTED the disk is full; DATA_LOSS a corrupt database; INTERNAL an I/O error.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "services/plumb-coordinator/job_records.h"
#include "services/plumb-coordinator/state_database.h"

namespace plumb::coordinator {

// Which jobs ListJobs returns. Every set condition must hold.
struct JobFilter {
  std::optional<std::string> owner;  // nullopt: every owner's jobs (an admin's view)
  std::vector<JobState> states;      // empty: any state
  int kind = 0;                      // 0: any kind
  LabelMap labels;                   // the job carries each of these key = value
};

struct JobPage {
  std::vector<JobRecord> jobs;  // newest first
  std::string next_page_token;  // empty on the last page
};

// Everything one step of a job changes, committed together with its event.
struct JobUpdate {
  EventRecord event;
  // The job's new status; nullopt keeps the stored one (the event still advances
  // last_event_sequence and update_time).
  std::optional<JobStatusRecord> status;
  // A round this event completes: ALREADY_EXISTS (and nothing written) if that round is
  // recorded already, so a repeated round is never recorded twice.
  std::optional<RoundRecord> round;
  // status.latest_checkpoint becomes the furthest checkpoint recorded (normally this one).
  std::optional<CheckpointRecord> checkpoint;
  std::optional<StageRecord> stage;  // inserted or replaced
};

class JobStore {
 public:
  // Opens or creates the database at `path` (see OpenStateDatabase for the start-up checks and
  // their errors). The store holds an exclusive lock on the file until destroyed.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path);

  const std::string& path() const { return path_; }

  // Called once per committed event, on the committing thread, after the commit and outside the
  // store's lock (WatchJob's wake-up). Events of one job may reach it out of order across
  // threads: treat it as a hint and read EventsAfter.
  void SetEventListener(std::function<void(const EventRecord&)> listener);

  struct Created {
    JobRecord job;
    bool created = false;  // false: the idempotency key matched an existing job
  };
  // Inserts `job` with `first_event` as its event 1, atomically. The store fills job_id (when
  // empty), create_time (when unset), update_time and last_event_sequence; status.state must be
  // non-terminal. With an idempotency key the same owner already used: the same spec_hash
  // returns that job (created = false, nothing written), another one is ALREADY_EXISTS.
  // ALREADY_EXISTS also for a job_id in use.
  absl::StatusOr<Created> CreateJob(JobRecord job, EventRecord first_event);

  // NOT_FOUND for an unknown job. Without include_spec, `spec` is left empty.
  absl::StatusOr<JobRecord> GetJob(absl::string_view job_id, bool include_spec = true);

  // Jobs matching `filter`, newest first by (create_time, job_id). page_size 0 = 50, above 500 =
  // 500, negative = INVALID_ARGUMENT. page_token is empty or a next_page_token this store issued
  // for the same filter (else INVALID_ARGUMENT); jobs created meanwhile do not shift pages.
  absl::StatusOr<JobPage> ListJobs(const JobFilter& filter, int page_size,
                                   absl::string_view page_token, bool include_spec = false);

  // Jobs in any of `states` (the queue limit; start-up recovery), oldest first, with specs.
  absl::StatusOr<int64_t> CountJobsInStates(absl::Span<const JobState> states);
  absl::StatusOr<std::vector<JobRecord>> JobsInStates(absl::Span<const JobState> states);

  // Appends update.event as the job's next event (sequence = last + 1) and applies the rest of
  // `update`, in one transaction; returns the event as stored. The event's job_id, sequence and
  // state are set by the store (state: the job's state after the event); record job_ids must be
  // empty or this job's. Reaching a terminal state releases the job's leases in the same
  // transaction. FAILED_PRECONDITION once the job is terminal: its terminal event is its last.
  absl::StatusOr<EventRecord> AppendEvent(absl::string_view job_id, JobUpdate update);

  // Read-modify-write of one job without lost updates (e.g. CancelJob racing the scheduler):
  // inside one transaction, reads the job (without spec), asks `decide` what to append, and
  // appends it as AppendEvent does. A `decide` error aborts with nothing written. `decide` runs
  // under the store's lock: it must be quick and must not call the store.
  absl::StatusOr<EventRecord> UpdateJob(
      absl::string_view job_id,
      absl::FunctionRef<absl::StatusOr<JobUpdate>(const JobRecord& current)> decide);

  // Events with sequence > after_sequence, in order, at most `limit` (0 = 1000; 1..10000).
  absl::StatusOr<std::vector<EventRecord>> EventsAfter(absl::string_view job_id,
                                                       uint64_t after_sequence, int limit = 0);

  // Writes to a terminal job (rounds, stages, checkpoints, leases) are FAILED_PRECONDITION.

  // Records a completed round on its own. Idempotent: the same round again with the same
  // checkpoint, policy version and metrics is OK (completed_time not compared); differing is
  // ALREADY_EXISTS.
  absl::Status CompleteRound(RoundRecord round);
  // The furthest completed round by (iteration, stage_index, round); nullopt if none.
  absl::StatusOr<std::optional<RoundRecord>> LastCompletedRound(absl::string_view job_id);
  absl::StatusOr<std::vector<RoundRecord>> CompletedRounds(absl::string_view job_id);

  // Inserts or replaces the record of one stage of one iteration.
  absl::Status RecordStage(StageRecord stage);
  // By (iteration, stage_index).
  absl::StatusOr<std::vector<StageRecord>> Stages(absl::string_view job_id);

  // Leases every worker in `leases` to `job_id`, all or none. A worker the job holds already is
  // re-leased (role, endpoint updated). FAILED_PRECONDITION naming the worker and its holder if
  // another job holds one.
  absl::Status AcquireLeases(absl::string_view job_id, std::vector<LeaseRecord> leases);
  // Frees the job's workers; returns how many. Unknown jobs hold none (0).
  absl::StatusOr<int> ReleaseLeases(absl::string_view job_id);
  // Frees one worker if this job holds it; returns whether it did.
  absl::StatusOr<bool> ReleaseLease(absl::string_view job_id, absl::string_view worker_id);
  // Every lease, by worker_id.
  absl::StatusOr<std::vector<LeaseRecord>> Leases();

  // Records a checkpoint and makes it the job's status.latest_checkpoint.
  absl::Status AddCheckpoint(CheckpointRecord checkpoint);
  // The furthest by (iteration, stage_index, round), then the last added; nullopt if none.
  absl::StatusOr<std::optional<CheckpointRecord>> LatestCheckpoint(absl::string_view job_id);

 private:
  JobStore(std::string path, StateDatabase database)
      : path_(std::move(path)), database_(std::move(database)) {}

  sqlite::Connection& db() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return *database_.connection; }
  // The body of CreateJob; sets stored_event when it inserted one.
  absl::StatusOr<Created> InsertNewJob(JobRecord job, EventRecord first_event,
                                       std::optional<EventRecord>& stored_event)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The body of AppendEvent / UpdateJob inside an open transaction.
  absl::StatusOr<EventRecord> ApplyUpdate(const JobRecord& current, JobUpdate update)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<EventRecord> Append(
      absl::string_view job_id,
      absl::FunctionRef<absl::StatusOr<JobUpdate>(const JobRecord& current)> decide);
  absl::StatusOr<JobRecord> ReadJob(absl::string_view job_id, bool include_spec)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // NOT_FOUND for an unknown job.
  absl::Status RequireJob(absl::string_view job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // NOT_FOUND for an unknown job, FAILED_PRECONDITION for a terminal one.
  absl::Status RequireWritableJob(absl::string_view job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<CheckpointRecord>> ReadLatestCheckpoint(absl::string_view job_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertRound(const RoundRecord& round) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertCheckpoint(const CheckpointRecord& checkpoint)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status UpsertStage(const StageRecord& stage) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status DeleteLeases(absl::string_view job_id, int* deleted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const EventRecord& event);

  const std::string path_;
  absl::Mutex mu_;
  StateDatabase database_ ABSL_GUARDED_BY(mu_);
  absl::Mutex listener_mu_;
  std::function<void(const EventRecord&)> listener_ ABSL_GUARDED_BY(listener_mu_);
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_H_
