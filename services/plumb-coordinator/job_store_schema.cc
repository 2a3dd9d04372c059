#include "services/plumb-coordinator/job_store_schema.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::coordinator {
namespace {

// Times are Unix microseconds (NULL: not set); uint64 values (policy versions, seeds) are stored
// as their int64 bit pattern; labels and metrics are JSON objects. STRICT tables refuse a value
// of the wrong type instead of converting it.
constexpr char kSchema[] = R"sql(
CREATE TABLE jobs (
  job_id TEXT PRIMARY KEY NOT NULL,
  owner TEXT NOT NULL,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  labels TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  spec BLOB NOT NULL,
  deadline INTEGER,
  max_retries INTEGER NOT NULL,
  state INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL,
  stage_index INTEGER NOT NULL,
  stage_name TEXT NOT NULL,
  iteration INTEGER NOT NULL,
  round INTEGER NOT NULL,
  progress REAL NOT NULL,
  create_time INTEGER NOT NULL,
  start_time INTEGER,
  end_time INTEGER,
  update_time INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  last_error_code INTEGER NOT NULL,
  metrics TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  latest_checkpoint TEXT NOT NULL,
  retries INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  last_event_sequence INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (owner, idempotency_key)
  WHERE idempotency_key <> '';
CREATE INDEX jobs_newest_first ON jobs (create_time DESC, job_id DESC);
CREATE INDEX jobs_by_owner ON jobs (owner, create_time DESC, job_id DESC);
CREATE INDEX jobs_by_state ON jobs (state);

CREATE TABLE events (
  job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
  sequence INTEGER NOT NULL,
  time INTEGER NOT NULL,
  type INTEGER NOT NULL,
  state INTEGER NOT NULL,
  stage_index INTEGER NOT NULL,
  stage_name TEXT NOT NULL,
  iteration INTEGER NOT NULL,
  round INTEGER NOT NULL,
  message TEXT NOT NULL,
  metrics TEXT NOT NULL,
  error_code INTEGER NOT NULL,
  worker_id TEXT NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (job_id, sequence)
) STRICT, WITHOUT ROWID;

CREATE TABLE stages (
  job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
  iteration INTEGER NOT NULL,
  stage_index INTEGER NOT NULL,
  name TEXT NOT NULL,
  start_time INTEGER,
  end_time INTEGER,
  output_checkpoint TEXT NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (job_id, iteration, stage_index)
) STRICT, WITHOUT ROWID;

CREATE TABLE rounds (
  job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
  iteration INTEGER NOT NULL,
  stage_index INTEGER NOT NULL,
  round INTEGER NOT NULL,
  completed_time INTEGER NOT NULL,
  checkpoint_path TEXT NOT NULL,
  policy_version INTEGER NOT NULL,
  metrics TEXT NOT NULL,
  PRIMARY KEY (job_id, iteration, stage_index, round)
) STRICT, WITHOUT ROWID;

CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY,
  job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
  iteration INTEGER NOT NULL,
  stage_index INTEGER NOT NULL,
  round INTEGER NOT NULL,
  path TEXT NOT NULL,
  time INTEGER NOT NULL
) STRICT;
CREATE INDEX checkpoints_by_position ON checkpoints (job_id, iteration, stage_index, round, id);

CREATE TABLE leases (
  worker_id TEXT PRIMARY KEY NOT NULL,
  job_id TEXT NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
  role INTEGER NOT NULL,
  endpoint TEXT NOT NULL,
  acquired_time INTEGER NOT NULL
) STRICT;
CREATE INDEX leases_by_job ON leases (job_id);
)sql";

constexpr const char* kTables[] = {"jobs", "events", "stages", "rounds", "checkpoints", "leases"};

}  // namespace

absl::Status CreateStateSchema(sqlite::Connection& db) {
  ASSIGN_OR_RETURN(sqlite::Connection::Transaction transaction, db.Begin());
  RETURN_IF_ERROR(db.Exec(kSchema));
  // PRAGMA takes no bound parameters; these are compile-time constants.
  RETURN_IF_ERROR(db.Exec(absl::StrCat("PRAGMA application_id = ", kStateApplicationId)));
  RETURN_IF_ERROR(db.Exec(absl::StrCat("PRAGMA user_version = ", kStateSchemaVersion)));
  return transaction.Commit();
}

absl::Status CheckStateTables(sqlite::Connection& db) {
  for (const char* table : kTables) {
    ASSIGN_OR_RETURN(sqlite::Statement statement,
                     db.Prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1"));
    statement.BindText(1, table);
    ASSIGN_OR_RETURN(bool found, statement.Step());
    if (!found) {
      return absl::FailedPreconditionError(absl::StrCat("table '", table, "' is missing"));
    }
  }
  return absl::OkStatus();
}

}  // namespace plumb::coordinator
