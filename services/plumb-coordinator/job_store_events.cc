// JobStore: events and the status, rounds, checkpoints and stages they commit with.
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/job_record_checks.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/job_store_rows.h"

namespace plumb::coordinator {
namespace {

constexpr int kDefaultEventLimit = 1000;
constexpr int kMaxEventLimit = 10000;

// A record's job_id must be empty (filled in here) or the job's own.
absl::Status MatchJob(std::string& record_job_id, const std::string& job_id,
                      absl::string_view field) {
  if (record_job_id.empty()) {
    record_job_id = job_id;
    return absl::OkStatus();
  }
  if (record_job_id != job_id) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".job_id: ", Quoted(record_job_id),
                                                   " is not the job updated, ", Quoted(job_id)));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EventRecord> JobStore::ApplyUpdate(const JobRecord& current, JobUpdate update) {
  if (IsTerminal(current.status.state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", Quoted(current.job_id), " is already ",
                     JobStateName(current.status.state), ": its terminal event was its last"));
  }
  RETURN_IF_ERROR(CheckEvent(update.event, "event"));
  RETURN_IF_ERROR(MatchJob(update.event.job_id, current.job_id, "event"));
  if (update.status.has_value()) RETURN_IF_ERROR(CheckStatus(*update.status, "status"));
  if (update.round.has_value()) {
    RETURN_IF_ERROR(CheckRound(*update.round, "round"));
    RETURN_IF_ERROR(MatchJob(update.round->job_id, current.job_id, "round"));
  }
  if (update.checkpoint.has_value()) {
    RETURN_IF_ERROR(CheckCheckpoint(*update.checkpoint, "checkpoint"));
    RETURN_IF_ERROR(MatchJob(update.checkpoint->job_id, current.job_id, "checkpoint"));
  }
  if (update.stage.has_value()) {
    RETURN_IF_ERROR(CheckStage(*update.stage, "stage"));
    RETURN_IF_ERROR(MatchJob(update.stage->job_id, current.job_id, "stage"));
  }

  JobStatusRecord status = update.status.has_value() ? std::move(*update.status) : current.status;
  CutFreeText(status.last_error);
  status.create_time = current.status.create_time;
  status.latest_checkpoint = current.status.latest_checkpoint;
  status.start_time = StoredTime(status.start_time);
  status.end_time = StoredTime(status.end_time);

  EventRecord event = std::move(update.event);
  CutFreeText(event.message);
  event.sequence = current.status.last_event_sequence + 1;
  event.state = status.state;
  event.time = StoredTimeOrNow(event.time);
  status.last_event_sequence = event.sequence;
  status.update_time = event.time;

  // The event first: a later step that fails (a repeated round) must take it back with the
  // rest, which the transaction does.
  RETURN_IF_ERROR(InsertEventRow(db(), event));
  if (update.checkpoint.has_value()) {
    CheckpointRecord& checkpoint = *update.checkpoint;
    if (checkpoint.time == absl::InfinitePast()) checkpoint.time = event.time;
    RETURN_IF_ERROR(InsertCheckpoint(checkpoint));
    ASSIGN_OR_RETURN(std::optional<CheckpointRecord> latest, ReadLatestCheckpoint(current.job_id));
    if (latest.has_value()) status.latest_checkpoint = latest->path;
  }
  if (update.round.has_value()) {
    RoundRecord& round = *update.round;
    if (round.completed_time == absl::InfinitePast()) round.completed_time = event.time;
    RETURN_IF_ERROR(InsertRound(round));
  }
  if (update.stage.has_value()) RETURN_IF_ERROR(UpsertStage(*update.stage));
  RETURN_IF_ERROR(UpdateJobStatus(db(), current.job_id, status));
  if (IsTerminal(status.state)) {
    int released = 0;
    RETURN_IF_ERROR(DeleteLeases(current.job_id, &released));
  }
  return event;
}

absl::StatusOr<EventRecord> JobStore::Append(
    absl::string_view job_id,
    absl::FunctionRef<absl::StatusOr<JobUpdate>(const JobRecord& current)> decide) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  EventRecord stored;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(sqlite::Connection::Transaction transaction, db().Begin());
    ASSIGN_OR_RETURN(const JobRecord current, ReadJob(job_id, /*include_spec=*/false));
    ASSIGN_OR_RETURN(JobUpdate update, decide(current));
    ASSIGN_OR_RETURN(stored, ApplyUpdate(current, std::move(update)));
    RETURN_IF_ERROR(transaction.Commit());
  }
  Notify(stored);
  return stored;
}

absl::StatusOr<EventRecord> JobStore::AppendEvent(absl::string_view job_id, JobUpdate update) {
  return Append(job_id, [&update](const JobRecord&) -> absl::StatusOr<JobUpdate> {
    return std::move(update);
  });
}

absl::StatusOr<EventRecord> JobStore::UpdateJob(
    absl::string_view job_id,
    absl::FunctionRef<absl::StatusOr<JobUpdate>(const JobRecord& current)> decide) {
  return Append(job_id, decide);
}

absl::StatusOr<std::vector<EventRecord>> JobStore::EventsAfter(absl::string_view job_id,
                                                               uint64_t after_sequence, int limit) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  if (limit < 0 || limit > kMaxEventLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: ", limit, " is not in [0, ", kMaxEventLimit, "]"));
  }
  if (limit == 0) limit = kDefaultEventLimit;
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(RequireJob(job_id));
  std::vector<EventRecord> events;
  // Sequences are stored as int64: nothing lies beyond the largest.
  if (after_sequence > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return events;
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(kSelectEvents,
                                             " WHERE job_id = ?1 AND sequence > ?2 "
                                             "ORDER BY sequence LIMIT ?3")));
  select.BindText(1, job_id).Bind(2, ToColumn(after_sequence)).Bind(3, int64_t{limit});
  while (true) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(EventRecord event, ReadEventRow(select));
    events.push_back(std::move(event));
  }
  return events;
}

}  // namespace plumb::coordinator
