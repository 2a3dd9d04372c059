#include "services/plumb-coordinator/job_store.h"

#include <utility>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/job_record_checks.h"
#include "services/plumb-coordinator/job_store_rows.h"

namespace plumb::coordinator {
namespace {

std::string NewJobId() {
  static absl::Mutex mu(absl::kConstInit);
  static absl::BitGen* gen = new absl::BitGen();
  absl::MutexLock lock(&mu);
  return absl::StrFormat("job-%016x", absl::Uniform<uint64_t>(*gen));
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path) {
  ASSIGN_OR_RETURN(StateDatabase database, OpenStateDatabase(path));
  return std::unique_ptr<JobStore>(new JobStore(path, std::move(database)));
}

void JobStore::SetEventListener(std::function<void(const EventRecord&)> listener) {
  absl::MutexLock lock(&listener_mu_);
  listener_ = std::move(listener);
}

void JobStore::Notify(const EventRecord& event) {
  std::function<void(const EventRecord&)> listener;
  {
    absl::MutexLock lock(&listener_mu_);
    listener = listener_;
  }
  if (listener) listener(event);
}

absl::StatusOr<JobRecord> JobStore::ReadJob(absl::string_view job_id, bool include_spec) {
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(SelectJobs(include_spec), " WHERE job_id = ?1")));
  select.BindText(1, job_id);
  ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("job ", Quoted(job_id), " not found"));
  return ReadJobRow(select);
}

absl::StatusOr<JobStore::Created> JobStore::CreateJob(JobRecord job, EventRecord first_event) {
  RETURN_IF_ERROR(CheckNewJob(job));
  RETURN_IF_ERROR(CheckEvent(first_event, "first_event"));
  if (IsTerminal(job.status.state)) {
    return absl::InvalidArgumentError(
        absl::StrCat("job.status.state: a new job cannot start ", JobStateName(job.status.state)));
  }
  CutFreeText(job.status.last_error);
  CutFreeText(first_event.message);
  std::optional<EventRecord> stored_event;
  ASSIGN_OR_RETURN(Created created,
                   InsertNewJob(std::move(job), std::move(first_event), stored_event));
  if (stored_event.has_value()) Notify(*stored_event);
  return created;
}

absl::StatusOr<JobStore::Created> JobStore::InsertNewJob(JobRecord job, EventRecord first_event,
                                                         std::optional<EventRecord>& stored_event) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Connection::Transaction transaction, db().Begin());
  if (!job.idempotency_key.empty()) {
    ASSIGN_OR_RETURN(sqlite::Statement find,
                     db().Prepare("SELECT job_id, spec_hash FROM jobs WHERE owner = ?1 AND "
                                  "idempotency_key = ?2"));
    find.BindText(1, job.owner).BindText(2, job.idempotency_key);
    ASSIGN_OR_RETURN(bool found, find.Step());
    if (found) {
      const std::string existing_id = find.Text(0);
      if (find.Text(1) != job.spec_hash) {
        return absl::AlreadyExistsError(
            absl::StrCat("idempotency_key ", Quoted(job.idempotency_key), " was used for job ",
                         Quoted(existing_id), " with a different spec"));
      }
      ASSIGN_OR_RETURN(JobRecord existing, ReadJob(existing_id, /*include_spec=*/true));
      return Created{std::move(existing), false};
    }
  }
  if (job.job_id.empty()) {
    job.job_id = NewJobId();
  } else {
    ASSIGN_OR_RETURN(sqlite::Statement exists,
                     db().Prepare("SELECT 1 FROM jobs WHERE job_id = ?1"));
    exists.BindText(1, job.job_id);
    ASSIGN_OR_RETURN(bool taken, exists.Step());
    if (taken) {
      return absl::AlreadyExistsError(absl::StrCat("job ", Quoted(job.job_id), " exists already"));
    }
  }
  job.deadline = StoredTime(job.deadline);
  JobStatusRecord& status = job.status;
  status.create_time = StoredTimeOrNow(status.create_time);
  status.start_time = StoredTime(status.start_time);
  status.end_time = StoredTime(status.end_time);
  status.last_event_sequence = 1;
  status.latest_checkpoint.clear();
  first_event.job_id = job.job_id;
  first_event.sequence = 1;
  first_event.state = status.state;
  first_event.time =
      StoredTime(first_event.time == absl::InfinitePast() ? status.create_time : first_event.time);
  status.update_time = first_event.time;
  RETURN_IF_ERROR(InsertJobRow(db(), job));
  RETURN_IF_ERROR(InsertEventRow(db(), first_event));
  RETURN_IF_ERROR(transaction.Commit());
  stored_event = std::move(first_event);
  return Created{std::move(job), true};
}

absl::StatusOr<JobRecord> JobStore::GetJob(absl::string_view job_id, bool include_spec) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  absl::MutexLock lock(&mu_);
  return ReadJob(job_id, include_spec);
}

absl::StatusOr<int64_t> JobStore::CountJobsInStates(absl::Span<const JobState> states) {
  ASSIGN_OR_RETURN(const int64_t mask, StateMask(states, "states"));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Statement count,
                   db().Prepare("SELECT count(*) FROM jobs WHERE (?1 >> state) & 1 = 1"));
  count.Bind(1, mask);
  ASSIGN_OR_RETURN(bool row, count.Step());
  return row ? count.Int(0) : 0;
}

absl::StatusOr<std::vector<JobRecord>> JobStore::JobsInStates(absl::Span<const JobState> states) {
  ASSIGN_OR_RETURN(const int64_t mask, StateMask(states, "states"));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(SelectJobs(/*include_spec=*/true),
                                             " WHERE (?1 >> state) & 1 = 1 "
                                             "ORDER BY create_time, job_id")));
  select.Bind(1, mask);
  std::vector<JobRecord> jobs;
  while (true) {
    ASSIGN_OR_RETURN(bool row, select.Step());
    if (!row) break;
    ASSIGN_OR_RETURN(JobRecord job, ReadJobRow(select));
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace plumb::coordinator
