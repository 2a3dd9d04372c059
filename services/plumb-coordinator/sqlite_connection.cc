#include "services/plumb-coordinator/sqlite_connection.h"

#include <cerrno>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace plumb::coordinator::sqlite {

absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context) {
  const int primary = rc & 0xff;
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  std::string message = absl::StrCat(
      context, ": ",
      db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (primary) {
    case SQLITE_NOTADB:
      return absl::FailedPreconditionError(message);
    case SQLITE_CORRUPT:
      return absl::DataLossError(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(message);
    case SQLITE_CANTOPEN:
      if (system_errno == EACCES || system_errno == EPERM || system_errno == EROFS) {
        return absl::PermissionDeniedError(message);
      }
      return absl::InternalError(message);
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_TOOBIG:
      return absl::ResourceExhaustedError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

void Statement::Note(int rc) {
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

Statement& Statement::Bind(int index, int64_t value) {
  Note(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  Note(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::BindText(int index, absl::string_view value) {
  Note(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view value) {
  // A zero-length blob with a null pointer would bind NULL.
  static const char kEmpty = 0;
  Note(sqlite3_bind_blob64(stmt_, index, value.empty() ? &kEmpty : value.data(), value.size(),
                           SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::BindNull(int index) {
  Note(sqlite3_bind_null(stmt_, index));
  return *this;
}

Statement& Statement::BindTime(int index, absl::Time time, bool null_if_future) {
  if (time == absl::InfinitePast() || (null_if_future && time == absl::InfiniteFuture())) {
    return BindNull(index);
  }
  return Bind(index, absl::ToUnixMicros(time));
}

absl::StatusOr<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) return SqliteError(db_, bind_error_, "binding a parameter");
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db_, sqlite3_extended_errcode(db_), "running a statement");
}

absl::Status Statement::Run() {
  while (true) {
    absl::StatusOr<bool> row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::Blob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob), static_cast<size_t>(size));
}

absl::Time Statement::Time(int column, absl::Time if_null) const {
  if (IsNull(column)) return if_null;
  return absl::FromUnixMicros(Int(column));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

absl::Status Connection::Exec(absl::string_view sql) {
  const std::string text(sql);
  char* error = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);
  if (rc != SQLITE_OK) return SqliteError(db_, sqlite3_extended_errcode(db_), "running SQL");
  return absl::OkStatus();
}

absl::StatusOr<Statement> Connection::Prepare(absl::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      return SqliteError(db_, sqlite3_extended_errcode(db_), "preparing a statement");
    }
    it = statements_.emplace(std::string(sql), stmt).first;
  }
  return Statement(db_, it->second);
}

absl::StatusOr<Connection::Transaction> Connection::Begin() {
  absl::Status begun = Exec("BEGIN IMMEDIATE");
  if (!begun.ok()) return begun;
  return Transaction(this);
}

absl::Status Connection::Transaction::Commit() {
  if (connection_ == nullptr) return absl::FailedPreconditionError("transaction already ended");
  absl::Status committed = connection_->Exec("COMMIT");
  if (committed.ok()) connection_ = nullptr;  // else the destructor rolls back
  return committed;
}

Connection::Transaction::~Transaction() {
  if (connection_ != nullptr && !sqlite3_get_autocommit(connection_->raw())) {
    connection_->Exec("ROLLBACK").IgnoreError();
  }
}

}  // namespace plumb::coordinator::sqlite
