#include "services/plumb-coordinator/job_store_rows.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/job_record_checks.h"
#include "services/plumb-coordinator/record_json.h"

namespace plumb::coordinator {
namespace {

constexpr char kJobColumnsBeforeSpec[] =
    "job_id, owner, name, kind, priority, labels, idempotency_key, spec_hash, ";
constexpr char kJobColumnsAfterSpec[] =
    ", deadline, max_retries, state, cancel_requested, stage_index, stage_name, iteration, "
    "round, progress, create_time, start_time, end_time, update_time, last_error, "
    "last_error_code, metrics, policy_version, latest_checkpoint, retries, seed, "
    "last_event_sequence";

int32_t Int32(const sqlite::Statement& row, int column) {
  return static_cast<int32_t>(row.Int(column));
}

// Binds the status columns at parameters first, first + 1, ... (19 of them).
absl::Status BindStatus(sqlite::Statement& statement, int first, const JobStatusRecord& status,
                        absl::string_view field) {
  ASSIGN_OR_RETURN(std::string metrics, EncodeMetrics(status.metrics, field));
  statement.Bind(first, int64_t{static_cast<int>(status.state)})
      .Bind(first + 1, int64_t{status.cancel_requested ? 1 : 0})
      .Bind(first + 2, int64_t{status.stage_index})
      .BindText(first + 3, status.stage_name)
      .Bind(first + 4, int64_t{status.iteration})
      .Bind(first + 5, int64_t{status.round})
      .Bind(first + 6, status.progress)
      .BindTime(first + 7, status.create_time)
      .BindTime(first + 8, status.start_time)
      .BindTime(first + 9, status.end_time)
      .BindTime(first + 10, status.update_time)
      .BindText(first + 11, status.last_error)
      .Bind(first + 12, int64_t{status.last_error_code})
      .BindText(first + 13, metrics)
      .Bind(first + 14, ToColumn(status.policy_version))
      .BindText(first + 15, status.latest_checkpoint)
      .Bind(first + 16, int64_t{status.retries})
      .Bind(first + 17, ToColumn(status.seed))
      .Bind(first + 18, ToColumn(status.last_event_sequence));
  return absl::OkStatus();
}

}  // namespace

absl::Time StoredTime(absl::Time time) {
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture()) return time;
  return absl::FromUnixMicros(absl::ToUnixMicros(time));
}

absl::Time StoredTimeOrNow(absl::Time time) {
  return StoredTime(time == absl::InfinitePast() ? absl::Now() : time);
}

absl::StatusOr<int64_t> StateMask(absl::Span<const JobState> states, absl::string_view field) {
  int64_t mask = 0;
  for (JobState state : states) {
    RETURN_IF_ERROR(CheckState(state, field));
    mask |= int64_t{1} << static_cast<int>(state);
  }
  return mask;
}

absl::StatusOr<JobState> StateFromColumn(int64_t value, absl::string_view source) {
  if (value < 0 || value > kMaxJobStateValue) {
    return absl::DataLossError(
        absl::StrCat(source, ": stored state ", value, " is not a JobState"));
  }
  return static_cast<JobState>(value);
}

std::string SelectJobs(bool include_spec) {
  return absl::StrCat("SELECT ", kJobColumnsBeforeSpec, include_spec ? "spec" : "X'' AS spec",
                      kJobColumnsAfterSpec, " FROM jobs");
}

absl::StatusOr<JobRecord> ReadJobRow(const sqlite::Statement& row) {
  JobRecord job;
  job.job_id = row.Text(0);
  const std::string source = absl::StrCat("job ", Quoted(job.job_id));
  job.owner = row.Text(1);
  job.name = row.Text(2);
  job.kind = static_cast<int>(row.Int(3));
  job.priority = Int32(row, 4);
  ASSIGN_OR_RETURN(job.labels, DecodeLabels(row.Text(5), absl::StrCat(source, " labels")));
  job.idempotency_key = row.Text(6);
  job.spec_hash = row.Text(7);
  job.spec = row.Blob(8);
  job.deadline = row.Time(9, absl::InfiniteFuture());
  job.max_retries = Int32(row, 10);
  JobStatusRecord& status = job.status;
  ASSIGN_OR_RETURN(status.state, StateFromColumn(row.Int(11), source));
  status.cancel_requested = row.Int(12) != 0;
  status.stage_index = Int32(row, 13);
  status.stage_name = row.Text(14);
  status.iteration = Int32(row, 15);
  status.round = Int32(row, 16);
  status.progress = row.Real(17);
  status.create_time = row.Time(18);
  status.start_time = row.Time(19);
  status.end_time = row.Time(20);
  status.update_time = row.Time(21);
  status.last_error = row.Text(22);
  status.last_error_code = Int32(row, 23);
  ASSIGN_OR_RETURN(status.metrics, DecodeMetrics(row.Text(24), absl::StrCat(source, " metrics")));
  status.policy_version = FromColumn(row.Int(25));
  status.latest_checkpoint = row.Text(26);
  status.retries = Int32(row, 27);
  status.seed = FromColumn(row.Int(28));
  status.last_event_sequence = FromColumn(row.Int(29));
  return job;
}

absl::Status InsertJobRow(sqlite::Connection& db, const JobRecord& job) {
  ASSIGN_OR_RETURN(std::string labels, EncodeLabels(job.labels, "job"));
  ASSIGN_OR_RETURN(sqlite::Statement insert,
                   db.Prepare(absl::StrCat("INSERT INTO jobs (", kJobColumnsBeforeSpec, "spec",
                                           kJobColumnsAfterSpec,
                                           ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                                           "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
                                           "?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30)")));
  insert.BindText(1, job.job_id)
      .BindText(2, job.owner)
      .BindText(3, job.name)
      .Bind(4, int64_t{job.kind})
      .Bind(5, int64_t{job.priority})
      .BindText(6, labels)
      .BindText(7, job.idempotency_key)
      .BindText(8, job.spec_hash)
      .BindBlob(9, job.spec)
      .BindTime(10, job.deadline, /*null_if_future=*/true)
      .Bind(11, int64_t{job.max_retries});
  RETURN_IF_ERROR(BindStatus(insert, 12, job.status, "job.status"));
  return insert.Run();
}

absl::Status UpdateJobStatus(sqlite::Connection& db, absl::string_view job_id,
                             const JobStatusRecord& status) {
  ASSIGN_OR_RETURN(
      sqlite::Statement update,
      db.Prepare("UPDATE jobs SET state = ?2, cancel_requested = ?3, stage_index = ?4, "
                 "stage_name = ?5, iteration = ?6, round = ?7, progress = ?8, create_time = ?9, "
                 "start_time = ?10, end_time = ?11, update_time = ?12, last_error = ?13, "
                 "last_error_code = ?14, metrics = ?15, policy_version = ?16, "
                 "latest_checkpoint = ?17, retries = ?18, seed = ?19, "
                 "last_event_sequence = ?20 WHERE job_id = ?1"));
  update.BindText(1, job_id);
  RETURN_IF_ERROR(BindStatus(update, 2, status, "status"));
  return update.Run();
}

absl::StatusOr<EventRecord> ReadEventRow(const sqlite::Statement& row) {
  EventRecord event;
  event.job_id = row.Text(0);
  event.sequence = FromColumn(row.Int(1));
  const std::string source =
      absl::StrCat("event ", event.sequence, " of job ", Quoted(event.job_id));
  event.time = row.Time(2);
  event.type = static_cast<int>(row.Int(3));
  ASSIGN_OR_RETURN(event.state, StateFromColumn(row.Int(4), source));
  event.stage_index = Int32(row, 5);
  event.stage_name = row.Text(6);
  event.iteration = Int32(row, 7);
  event.round = Int32(row, 8);
  event.message = row.Text(9);
  ASSIGN_OR_RETURN(event.metrics, DecodeMetrics(row.Text(10), absl::StrCat(source, " metrics")));
  event.error_code = Int32(row, 11);
  event.worker_id = row.Text(12);
  event.payload = row.Blob(13);
  return event;
}

absl::Status InsertEventRow(sqlite::Connection& db, const EventRecord& event) {
  ASSIGN_OR_RETURN(std::string metrics, EncodeMetrics(event.metrics, "event"));
  ASSIGN_OR_RETURN(sqlite::Statement insert,
                   db.Prepare("INSERT INTO events (job_id, sequence, time, type, state, "
                              "stage_index, stage_name, iteration, round, message, metrics, "
                              "error_code, worker_id, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                              "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"));
  insert.BindText(1, event.job_id)
      .Bind(2, ToColumn(event.sequence))
      .BindTime(3, event.time)
      .Bind(4, int64_t{event.type})
      .Bind(5, int64_t{static_cast<int>(event.state)})
      .Bind(6, int64_t{event.stage_index})
      .BindText(7, event.stage_name)
      .Bind(8, int64_t{event.iteration})
      .Bind(9, int64_t{event.round})
      .BindText(10, event.message)
      .BindText(11, metrics)
      .Bind(12, int64_t{event.error_code})
      .BindText(13, event.worker_id)
      .BindBlob(14, event.payload);
  return insert.Run();
}

}  // namespace plumb::coordinator
