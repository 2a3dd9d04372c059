// JobStore: completed rounds, stages, checkpoints and leases.
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/job_record_checks.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/job_store_rows.h"
#include "services/plumb-coordinator/record_json.h"

namespace plumb::coordinator {
namespace {

constexpr char kSelectRounds[] =
    "SELECT job_id, iteration, stage_index, round, completed_time, checkpoint_path, "
    "policy_version, metrics FROM rounds";
constexpr char kSelectStages[] =
    "SELECT job_id, iteration, stage_index, name, start_time, end_time, output_checkpoint, "
    "metrics FROM stages";
constexpr char kSelectCheckpoints[] =
    "SELECT job_id, iteration, stage_index, round, path, time FROM checkpoints";
constexpr char kSelectLeases[] =
    "SELECT job_id, worker_id, role, endpoint, acquired_time FROM leases";

std::string Position(const RoundRecord& round) {
  return absl::StrFormat("round %d of stage %d, iteration %d of job %s", round.round,
                         round.stage_index, round.iteration, Quoted(round.job_id));
}

absl::StatusOr<RoundRecord> ReadRoundRow(const sqlite::Statement& row) {
  RoundRecord round;
  round.job_id = row.Text(0);
  round.iteration = static_cast<int32_t>(row.Int(1));
  round.stage_index = static_cast<int32_t>(row.Int(2));
  round.round = static_cast<int32_t>(row.Int(3));
  round.completed_time = row.Time(4);
  round.checkpoint_path = row.Text(5);
  round.policy_version = FromColumn(row.Int(6));
  ASSIGN_OR_RETURN(round.metrics, DecodeMetrics(row.Text(7), Position(round)));
  return round;
}

absl::StatusOr<StageRecord> ReadStageRow(const sqlite::Statement& row) {
  StageRecord stage;
  stage.job_id = row.Text(0);
  stage.iteration = static_cast<int32_t>(row.Int(1));
  stage.stage_index = static_cast<int32_t>(row.Int(2));
  stage.name = row.Text(3);
  stage.start_time = row.Time(4);
  stage.end_time = row.Time(5);
  stage.output_checkpoint = row.Text(6);
  ASSIGN_OR_RETURN(
      stage.metrics,
      DecodeMetrics(row.Text(7), absl::StrFormat("stage %d of job %s", stage.stage_index,
                                                 Quoted(stage.job_id))));
  return stage;
}

absl::StatusOr<CheckpointRecord> ReadCheckpointRow(const sqlite::Statement& row) {
  CheckpointRecord checkpoint;
  checkpoint.job_id = row.Text(0);
  checkpoint.iteration = static_cast<int32_t>(row.Int(1));
  checkpoint.stage_index = static_cast<int32_t>(row.Int(2));
  checkpoint.round = static_cast<int32_t>(row.Int(3));
  checkpoint.path = row.Text(4);
  checkpoint.time = row.Time(5);
  return checkpoint;
}

absl::StatusOr<LeaseRecord> ReadLeaseRow(const sqlite::Statement& row) {
  LeaseRecord lease;
  lease.job_id = row.Text(0);
  lease.worker_id = row.Text(1);
  lease.role = static_cast<int>(row.Int(2));
  lease.endpoint = row.Text(3);
  lease.acquired_time = row.Time(4);
  return lease;
}

// Every row `statement` yields, read by `read`.
template <typename Record, typename Reader>
absl::StatusOr<std::vector<Record>> ReadAll(sqlite::Statement& statement, Reader read) {
  std::vector<Record> records;
  while (true) {
    ASSIGN_OR_RETURN(bool row, statement.Step());
    if (!row) return records;
    ASSIGN_OR_RETURN(Record record, read(statement));
    records.push_back(std::move(record));
  }
}

// A record given on its own names its job.
template <typename Record>
absl::Status RequireJobId(const Record& record, absl::string_view field) {
  return CheckJobId(record.job_id, absl::StrCat(field, ".job_id"));
}

}  // namespace

absl::Status JobStore::RequireJob(absl::string_view job_id) {
  ASSIGN_OR_RETURN(sqlite::Statement exists, db().Prepare("SELECT 1 FROM jobs WHERE job_id = ?1"));
  exists.BindText(1, job_id);
  ASSIGN_OR_RETURN(bool found, exists.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("job ", Quoted(job_id), " not found"));
  return absl::OkStatus();
}

absl::Status JobStore::RequireWritableJob(absl::string_view job_id) {
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare("SELECT state FROM jobs WHERE job_id = ?1"));
  select.BindText(1, job_id);
  ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return absl::NotFoundError(absl::StrCat("job ", Quoted(job_id), " not found"));
  ASSIGN_OR_RETURN(JobState state, StateFromColumn(select.Int(0), job_id));
  if (IsTerminal(state)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", Quoted(job_id), " is already ", JobStateName(state)));
  }
  return absl::OkStatus();
}

absl::Status JobStore::InsertRound(const RoundRecord& round) {
  ASSIGN_OR_RETURN(sqlite::Statement exists,
                   db().Prepare("SELECT 1 FROM rounds WHERE job_id = ?1 AND iteration = ?2 AND "
                                "stage_index = ?3 AND round = ?4"));
  exists.BindText(1, round.job_id)
      .Bind(2, int64_t{round.iteration})
      .Bind(3, int64_t{round.stage_index})
      .Bind(4, int64_t{round.round});
  ASSIGN_OR_RETURN(bool found, exists.Step());
  if (found) {
    return absl::AlreadyExistsError(
        absl::StrCat(Position(round), " is recorded already: a round is never recorded twice"));
  }
  ASSIGN_OR_RETURN(std::string metrics, EncodeMetrics(round.metrics, "round"));
  ASSIGN_OR_RETURN(sqlite::Statement insert,
                   db().Prepare("INSERT INTO rounds (job_id, iteration, stage_index, round, "
                                "completed_time, checkpoint_path, policy_version, metrics) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  insert.BindText(1, round.job_id)
      .Bind(2, int64_t{round.iteration})
      .Bind(3, int64_t{round.stage_index})
      .Bind(4, int64_t{round.round})
      .BindTime(5, StoredTimeOrNow(round.completed_time))
      .BindText(6, round.checkpoint_path)
      .Bind(7, ToColumn(round.policy_version))
      .BindText(8, metrics);
  return insert.Run();
}

absl::Status JobStore::CompleteRound(RoundRecord round) {
  RETURN_IF_ERROR(RequireJobId(round, "round"));
  RETURN_IF_ERROR(CheckRound(round, "round"));
  ASSIGN_OR_RETURN(std::string metrics, EncodeMetrics(round.metrics, "round"));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Connection::Transaction transaction, db().Begin());
  RETURN_IF_ERROR(RequireWritableJob(round.job_id));
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(kSelectRounds,
                                             " WHERE job_id = ?1 AND iteration = ?2 AND "
                                             "stage_index = ?3 AND round = ?4")));
  select.BindText(1, round.job_id)
      .Bind(2, int64_t{round.iteration})
      .Bind(3, int64_t{round.stage_index})
      .Bind(4, int64_t{round.round});
  ASSIGN_OR_RETURN(bool found, select.Step());
  if (found) {
    // The same round again (a retried call) is fine; a different outcome is not.
    if (select.Text(5) == round.checkpoint_path &&
        FromColumn(select.Int(6)) == round.policy_version && select.Text(7) == metrics) {
      return absl::OkStatus();
    }
    return absl::AlreadyExistsError(absl::StrCat(
        Position(round),
        " is recorded already with a different checkpoint, policy version or metrics"));
  }
  RETURN_IF_ERROR(InsertRound(round));
  return transaction.Commit();
}

absl::StatusOr<std::optional<RoundRecord>> JobStore::LastCompletedRound(absl::string_view job_id) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(RequireJob(job_id));
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(kSelectRounds,
                                             " WHERE job_id = ?1 ORDER BY iteration DESC, "
                                             "stage_index DESC, round DESC LIMIT 1")));
  select.BindText(1, job_id);
  ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<RoundRecord>();
  ASSIGN_OR_RETURN(RoundRecord round, ReadRoundRow(select));
  return std::optional<RoundRecord>(std::move(round));
}

absl::StatusOr<std::vector<RoundRecord>> JobStore::CompletedRounds(absl::string_view job_id) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(RequireJob(job_id));
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(kSelectRounds,
                                             " WHERE job_id = ?1 ORDER BY iteration, "
                                             "stage_index, round")));
  select.BindText(1, job_id);
  return ReadAll<RoundRecord>(select, ReadRoundRow);
}

absl::Status JobStore::UpsertStage(const StageRecord& stage) {
  ASSIGN_OR_RETURN(std::string metrics, EncodeMetrics(stage.metrics, "stage"));
  ASSIGN_OR_RETURN(
      sqlite::Statement upsert,
      db().Prepare("INSERT INTO stages (job_id, iteration, stage_index, name, start_time, "
                   "end_time, output_checkpoint, metrics) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
                   "ON CONFLICT (job_id, iteration, stage_index) DO UPDATE SET "
                   "name = excluded.name, start_time = excluded.start_time, "
                   "end_time = excluded.end_time, output_checkpoint = excluded.output_checkpoint, "
                   "metrics = excluded.metrics"));
  upsert.BindText(1, stage.job_id)
      .Bind(2, int64_t{stage.iteration})
      .Bind(3, int64_t{stage.stage_index})
      .BindText(4, stage.name)
      .BindTime(5, StoredTime(stage.start_time))
      .BindTime(6, StoredTime(stage.end_time))
      .BindText(7, stage.output_checkpoint)
      .BindText(8, metrics);
  return upsert.Run();
}

absl::Status JobStore::RecordStage(StageRecord stage) {
  RETURN_IF_ERROR(RequireJobId(stage, "stage"));
  RETURN_IF_ERROR(CheckStage(stage, "stage"));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Connection::Transaction transaction, db().Begin());
  RETURN_IF_ERROR(RequireWritableJob(stage.job_id));
  RETURN_IF_ERROR(UpsertStage(stage));
  return transaction.Commit();
}

absl::StatusOr<std::vector<StageRecord>> JobStore::Stages(absl::string_view job_id) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(RequireJob(job_id));
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(kSelectStages,
                                             " WHERE job_id = ?1 ORDER BY iteration, "
                                             "stage_index")));
  select.BindText(1, job_id);
  return ReadAll<StageRecord>(select, ReadStageRow);
}

absl::Status JobStore::InsertCheckpoint(const CheckpointRecord& checkpoint) {
  ASSIGN_OR_RETURN(sqlite::Statement insert,
                   db().Prepare("INSERT INTO checkpoints (job_id, iteration, stage_index, round, "
                                "path, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  insert.BindText(1, checkpoint.job_id)
      .Bind(2, int64_t{checkpoint.iteration})
      .Bind(3, int64_t{checkpoint.stage_index})
      .Bind(4, int64_t{checkpoint.round})
      .BindText(5, checkpoint.path)
      .BindTime(6, StoredTimeOrNow(checkpoint.time));
  RETURN_IF_ERROR(insert.Run());
  ASSIGN_OR_RETURN(
      sqlite::Statement update,
      db().Prepare("UPDATE jobs SET latest_checkpoint = (SELECT path FROM checkpoints WHERE "
                   "job_id = ?1 ORDER BY iteration DESC, stage_index DESC, round DESC, id DESC "
                   "LIMIT 1) WHERE job_id = ?1"));
  update.BindText(1, checkpoint.job_id);
  return update.Run();
}

absl::Status JobStore::AddCheckpoint(CheckpointRecord checkpoint) {
  RETURN_IF_ERROR(RequireJobId(checkpoint, "checkpoint"));
  RETURN_IF_ERROR(CheckCheckpoint(checkpoint, "checkpoint"));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Connection::Transaction transaction, db().Begin());
  RETURN_IF_ERROR(RequireWritableJob(checkpoint.job_id));
  RETURN_IF_ERROR(InsertCheckpoint(checkpoint));
  return transaction.Commit();
}

absl::StatusOr<std::optional<CheckpointRecord>> JobStore::ReadLatestCheckpoint(
    absl::string_view job_id) {
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(kSelectCheckpoints,
                                             " WHERE job_id = ?1 ORDER BY iteration DESC, "
                                             "stage_index DESC, round DESC, id DESC LIMIT 1")));
  select.BindText(1, job_id);
  ASSIGN_OR_RETURN(bool found, select.Step());
  if (!found) return std::optional<CheckpointRecord>();
  ASSIGN_OR_RETURN(CheckpointRecord checkpoint, ReadCheckpointRow(select));
  return std::optional<CheckpointRecord>(std::move(checkpoint));
}

absl::StatusOr<std::optional<CheckpointRecord>> JobStore::LatestCheckpoint(
    absl::string_view job_id) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(RequireJob(job_id));
  return ReadLatestCheckpoint(job_id);
}

absl::Status JobStore::AcquireLeases(absl::string_view job_id, std::vector<LeaseRecord> leases) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  if (leases.size() > kMaxLeasesPerCall) {
    return absl::InvalidArgumentError(
        absl::StrFormat("leases: %d entries; at most %d", leases.size(), kMaxLeasesPerCall));
  }
  absl::flat_hash_set<std::string> workers;
  const std::string job(job_id);
  for (size_t i = 0; i < leases.size(); ++i) {
    const std::string field = absl::StrCat("leases[", i, "]");
    RETURN_IF_ERROR(CheckLease(leases[i], field));
    if (leases[i].job_id.empty()) leases[i].job_id = job;
    if (leases[i].job_id != job) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".job_id: ", Quoted(leases[i].job_id), " is not ", Quoted(job)));
    }
    if (!workers.insert(leases[i].worker_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".worker_id: ", Quoted(leases[i].worker_id), " appears twice"));
    }
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Connection::Transaction transaction, db().Begin());
  RETURN_IF_ERROR(RequireWritableJob(job));
  for (const LeaseRecord& lease : leases) {
    ASSIGN_OR_RETURN(sqlite::Statement holder,
                     db().Prepare("SELECT job_id FROM leases WHERE worker_id = ?1"));
    holder.BindText(1, lease.worker_id);
    ASSIGN_OR_RETURN(bool held, holder.Step());
    if (held && holder.Text(0) != job) {
      return absl::FailedPreconditionError(absl::StrCat(
          "worker ", Quoted(lease.worker_id), " is leased to job ", Quoted(holder.Text(0))));
    }
  }
  for (const LeaseRecord& lease : leases) {
    ASSIGN_OR_RETURN(
        sqlite::Statement upsert,
        db().Prepare("INSERT INTO leases (worker_id, job_id, role, endpoint, acquired_time) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (worker_id) DO UPDATE SET "
                     "role = excluded.role, endpoint = excluded.endpoint"));
    upsert.BindText(1, lease.worker_id)
        .BindText(2, job)
        .Bind(3, int64_t{lease.role})
        .BindText(4, lease.endpoint)
        .BindTime(5, StoredTimeOrNow(lease.acquired_time));
    RETURN_IF_ERROR(upsert.Run());
  }
  return transaction.Commit();
}

absl::Status JobStore::DeleteLeases(absl::string_view job_id, int* deleted) {
  ASSIGN_OR_RETURN(sqlite::Statement remove, db().Prepare("DELETE FROM leases WHERE job_id = ?1"));
  remove.BindText(1, job_id);
  RETURN_IF_ERROR(remove.Run());
  *deleted = sqlite3_changes(db().raw());
  return absl::OkStatus();
}

absl::StatusOr<int> JobStore::ReleaseLeases(absl::string_view job_id) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  absl::MutexLock lock(&mu_);
  int deleted = 0;
  RETURN_IF_ERROR(DeleteLeases(job_id, &deleted));
  return deleted;
}

absl::StatusOr<bool> JobStore::ReleaseLease(absl::string_view job_id, absl::string_view worker_id) {
  RETURN_IF_ERROR(CheckJobId(job_id, "job_id"));
  if (worker_id.empty() || worker_id.size() > kMaxWorkerIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker_id: must have 1 to ", kMaxWorkerIdBytes, " bytes"));
  }
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Statement remove,
                   db().Prepare("DELETE FROM leases WHERE job_id = ?1 AND worker_id = ?2"));
  remove.BindText(1, job_id).BindText(2, worker_id);
  RETURN_IF_ERROR(remove.Run());
  return sqlite3_changes(db().raw()) > 0;
}

absl::StatusOr<std::vector<LeaseRecord>> JobStore::Leases() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(sqlite::Statement select,
                   db().Prepare(absl::StrCat(kSelectLeases, " ORDER BY worker_id")));
  return ReadAll<LeaseRecord>(select, ReadLeaseRow);
}

}  // namespace plumb::coordinator
