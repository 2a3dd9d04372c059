// Opening the coordinator's SQLite state file at start-up: every way it can be unusable (a
// directory, a missing folder, no permission, not SQLite, another program's database, a newer
// schema, a corrupt file, in use by another coordinator) is an error that names the path and
// says what to do. A new or empty file gets the schema (job_store_schema.cc).
//
// Thread safety: OpenStateDatabase is reentrant; the result is used by one thread at a time.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_STATE_DATABASE_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_STATE_DATABASE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "services/plumb-coordinator/sqlite_connection.h"

namespace plumb::coordinator {

// The config key that names the state file, quoted in start-up errors.
inline constexpr char kStatePathKey[] = "coordinator.state_path";

// An exclusive advisory lock (flock) on the state file, held while the store is open, so that a
// second coordinator on the same file is refused at start-up. Released when the process dies.
class StateFileLock {
 public:
  StateFileLock() = default;
  explicit StateFileLock(int fd) : fd_(fd) {}
  StateFileLock(StateFileLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateFileLock& operator=(StateFileLock&& other) noexcept;
  StateFileLock(const StateFileLock&) = delete;
  StateFileLock& operator=(const StateFileLock&) = delete;
  ~StateFileLock();

 private:
  int fd_ = -1;
};

struct StateDatabase {
  // Declared first so it is released last: closing another descriptor of the file while SQLite
  // still has it open would drop SQLite's own POSIX locks.
  StateFileLock lock;
  std::unique_ptr<sqlite::Connection> connection;
};

// Opens (creating if absent) the state database at `path`: WAL journal, synchronous=FULL (a
// committed write survives power loss, not only a killed process), foreign keys on, a busy
// timeout, defensive mode; checks the schema version (PRAGMA user_version) and runs
// PRAGMA quick_check. Errors: INVALID_ARGUMENT a malformed path; FAILED_PRECONDITION a directory,
// a missing folder, not a Plumb coordinator database, a newer schema, in use by another process;
// PERMISSION_DENIED no permission to create or write; DATA_LOSS a corrupt database.
absl::StatusOr<StateDatabase> OpenStateDatabase(const std::string& path);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_STATE_DATABASE_H_
