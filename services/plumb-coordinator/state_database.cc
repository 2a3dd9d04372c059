#include "services/plumb-coordinator/state_database.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "services/plumb-coordinator/job_store_schema.h"

namespace plumb::coordinator {
namespace {

constexpr size_t kMaxStatePathBytes = 4096;
constexpr int kBusyTimeoutMs = 5000;
// Largest string or blob SQLite will hold for us; the store's own bounds are far below.
constexpr int kMaxValueBytes = 64 << 20;

// "coordinator state database '<path>'", the start of every start-up error.
std::string Subject(const std::string& path) {
  return absl::StrCat("coordinator state database ", Echo(path, 512, '\''));
}

std::string Elsewhere() { return absl::StrCat("point ", kStatePathKey, " elsewhere"); }

// The Status `error` (from SQLite) rewritten as a start-up error: what is wrong and what to do.
absl::Status StartupError(const std::string& path, const absl::Status& error) {
  const std::string what(error.message());
  switch (error.code()) {
    case absl::StatusCode::kFailedPrecondition:
      return absl::FailedPreconditionError(absl::StrCat(Subject(path),
                                                        " is not a Plumb coordinator database (",
                                                        what, "): move it aside or ", Elsewhere()));
    case absl::StatusCode::kDataLoss:
      return absl::DataLossError(absl::StrCat(Subject(path), " is corrupt (", what,
                                              "): restore it from a backup, or move it aside "
                                              "(its jobs are then forgotten) or ",
                                              Elsewhere()));
    case absl::StatusCode::kPermissionDenied:
      return absl::PermissionDeniedError(
          absl::StrCat(Subject(path), " cannot be written (", what,
                       "): let the coordinator's user write the file and its folder (SQLite "
                       "keeps -wal and -shm files beside it) or ",
                       Elsewhere()));
    default:
      return absl::Status(error.code(), absl::StrCat(Subject(path), ": ", what));
  }
}

absl::Status Startup(const std::string& path, absl::Status status) {
  return status.ok() ? status : StartupError(path, status);
}
template <typename T>
absl::StatusOr<T> Startup(const std::string& path, absl::StatusOr<T> value) {
  if (!value.ok()) return StartupError(path, value.status());
  return value;
}

// The checks that need no SQLite: a well-formed path to a regular file in an existing folder.
absl::Status CheckPath(const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(kStatePathKey, ": empty; name a file"));
  }
  if (path.size() > kMaxStatePathBytes || path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: %s is not a usable path (%d bytes, at most %d, no NUL bytes)",
                        kStatePathKey, Echo(path), path.size(), kMaxStatePathBytes));
  }
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(kStatePathKey, ": ", Echo(path),
                     " is an SQLite special name; the state must live in a file (a plain path)"));
  }
  struct stat info;
  if (stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          Subject(path), " is a directory: ", kStatePathKey, " must name a file inside it"));
    }
    if (!S_ISREG(info.st_mode)) {
      return absl::FailedPreconditionError(
          absl::StrCat(Subject(path), " is not a regular file: ", Elsewhere()));
    }
    return absl::OkStatus();
  }
  if (errno == EACCES) {
    return absl::PermissionDeniedError(
        absl::StrCat(Subject(path), " cannot be reached (", std::strerror(errno),
                     "): let the coordinator's user search its folders or ", Elsewhere()));
  }
  const std::filesystem::path parent =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path();
  struct stat parent_info;
  if (stat(parent.c_str(), &parent_info) != 0 || !S_ISDIR(parent_info.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(Subject(path), ": folder ", Echo(parent.string(), 512, '\''),
                     " does not exist: create it or ", Elsewhere()));
  }
  return absl::OkStatus();
}

// The integer in the first column of the first row of `sql` (a constant).
absl::StatusOr<int64_t> CountRows(sqlite::Connection& db, const std::string& sql) {
  ASSIGN_OR_RETURN(sqlite::Statement statement, db.Prepare(sql));
  ASSIGN_OR_RETURN(bool row, statement.Step());
  if (!row) return absl::InternalError(absl::StrCat(sql, " returned nothing"));
  return statement.Int(0);
}

// Why sqlite3_open_v2 failed. SQLite's errno is that of its last attempt (a read-only open
// after the read-write one), so permission is judged with access(2) as well.
absl::Status OpenFailure(const std::string& path, sqlite3* db, int rc) {
  const int error = db != nullptr ? sqlite3_system_errno(db) : 0;
  struct stat info;
  const bool exists = stat(path.c_str(), &info) == 0;
  const std::string parent =
      std::filesystem::absolute(std::filesystem::path(path)).parent_path().string();
  const bool denied =
      error == EACCES || error == EPERM || error == EROFS ||
      (exists ? access(path.c_str(), R_OK | W_OK) != 0 : access(parent.c_str(), W_OK | X_OK) != 0);
  const std::string message =
      absl::StrCat("opening: ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (denied) return StartupError(path, absl::PermissionDeniedError(message));
  return absl::FailedPreconditionError(
      absl::StrCat(Subject(path), " cannot be opened (", message, "): ", Elsewhere()));
}

absl::StatusOr<int64_t> PragmaInt(sqlite::Connection& db, const char* pragma) {
  return CountRows(db, absl::StrCat("PRAGMA ", pragma));
}

// PRAGMA quick_check: OK, or DATA_LOSS with its first finding.
absl::Status QuickCheck(sqlite::Connection& db) {
  ASSIGN_OR_RETURN(sqlite::Statement statement, db.Prepare("PRAGMA quick_check(1)"));
  ASSIGN_OR_RETURN(bool row, statement.Step());
  const std::string verdict = row ? statement.Text(0) : "no answer";
  if (verdict == "ok") return absl::OkStatus();
  return absl::DataLossError(absl::StrCat("integrity check: ", Echo(verdict, 256)));
}

// Takes the file lock; FAILED_PRECONDITION when another process (or another store in this one)
// holds it.
absl::StatusOr<StateFileLock> LockStateFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat(Subject(path), " cannot be opened to lock it (",
                                                    std::strerror(errno), "): ", Elsewhere()));
  }
  StateFileLock lock(fd);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          Subject(path), " is in use by another coordinator process: stop that one or ",
          Elsewhere()));
    }
    return absl::FailedPreconditionError(absl::StrCat(Subject(path), " cannot be locked (",
                                                      std::strerror(errno), "): ", Elsewhere()));
  }
  return lock;
}

// Reads the header: creates the schema in an empty file, accepts the current version, refuses
// anything else.
absl::Status CheckOrCreateSchema(const std::string& path, sqlite::Connection& db) {
  ASSIGN_OR_RETURN(const int64_t application_id, Startup(path, PragmaInt(db, "application_id")));
  ASSIGN_OR_RETURN(const int64_t version, Startup(path, PragmaInt(db, "user_version")));
  ASSIGN_OR_RETURN(const int64_t objects,
                   Startup(path, CountRows(db, "SELECT count(*) FROM sqlite_schema")));
  if (application_id == 0 && version == 0 && objects == 0) {
    return Startup(path, CreateStateSchema(db));
  }
  if (application_id != kStateApplicationId) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s is an SQLite database of another program (application_id %#x, %d schema objects), "
        "not a Plumb coordinator database: move it aside or %s",
        Subject(path), application_id, objects, Elsewhere()));
  }
  if (version > kStateSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s has schema version %d, written by a newer Plumb; this coordinator reads version %d: "
        "run the newer coordinator, or move the file aside or %s",
        Subject(path), version, kStateSchemaVersion, Elsewhere()));
  }
  if (version < 1) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s has no schema version (user_version %d): it is not a complete Plumb coordinator "
        "database; move it aside or %s",
        Subject(path), version, Elsewhere()));
  }
  absl::Status tables = CheckStateTables(db);
  if (tables.code() == absl::StatusCode::kFailedPrecondition) {
    return absl::DataLossError(absl::StrCat(Subject(path), " is damaged (", tables.message(),
                                            "): restore it from a backup, or move it aside or ",
                                            Elsewhere()));
  }
  return Startup(path, tables);
}

absl::Status Configure(sqlite::Connection& db) {
  sqlite3_extended_result_codes(db.raw(), 1);
  sqlite3_busy_timeout(db.raw(), kBusyTimeoutMs);
  sqlite3_limit(db.raw(), SQLITE_LIMIT_LENGTH, kMaxValueBytes);
  // Defensive mode: no writable_schema tricks, no direct edits of shadow tables.
  sqlite3_db_config(db.raw(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.raw(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  return db.Exec("PRAGMA foreign_keys = ON");
}

absl::Status UseWal(const std::string& path, sqlite::Connection& db) {
  ASSIGN_OR_RETURN(sqlite::Statement statement,
                   Startup(path, db.Prepare("PRAGMA journal_mode = WAL")));
  ASSIGN_OR_RETURN(bool row, Startup(path, statement.Step()));
  const std::string mode = row ? statement.Text(0) : "";
  if (mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat(Subject(path), " cannot use SQLite's write-ahead log (journal mode stays ",
                     Echo(mode), "); put it on a local filesystem or ", Elsewhere()));
  }
  return Startup(path, db.Exec("PRAGMA synchronous = FULL"));
}

}  // namespace

StateFileLock& StateFileLock::operator=(StateFileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StateFileLock::~StateFileLock() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<StateDatabase> OpenStateDatabase(const std::string& path) {
  RETURN_IF_ERROR(CheckPath(path));
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  StateDatabase database;
  if (rc != SQLITE_OK) {
    absl::Status error = OpenFailure(path, raw, rc);
    sqlite3_close(raw);
    return error;
  }
  database.connection = std::make_unique<sqlite::Connection>(raw);
  sqlite::Connection& db = *database.connection;
  if (sqlite3_db_readonly(raw, "main") == 1) {
    return StartupError(path, absl::PermissionDeniedError("the file is read-only"));
  }
  ASSIGN_OR_RETURN(database.lock, LockStateFile(path));
  RETURN_IF_ERROR(Startup(path, Configure(db)));
  RETURN_IF_ERROR(CheckOrCreateSchema(path, db));
  RETURN_IF_ERROR(Startup(path, QuickCheck(db)));
  RETURN_IF_ERROR(UseWal(path, db));
  return database;
}

}  // namespace plumb::coordinator
