// A thin RAII layer over one SQLite connection for JobStore: prepared statements cached by their
// SQL text, values always bound as parameters (never spliced into SQL), SQLite result codes
// turned into absl::Status, and transactions that roll back unless committed.
//
// Thread safety: none. JobStore serialises every use of a connection behind its mutex. A cached
// statement is reset when its Statement handle dies, so at most one handle per SQL text may be
// alive at a time.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_SQLITE_CONNECTION_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_SQLITE_CONNECTION_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace plumb::coordinator::sqlite {

// The Status for SQLite result code `rc` (extended codes understood) on `db`: "<context>: <SQLite's
// message>". NOTADB -> FAILED_PRECONDITION, CORRUPT -> DATA_LOSS, READONLY / PERM / AUTH and
// CANTOPEN with EACCES, EPERM or EROFS -> PERMISSION_DENIED, FULL / NOMEM / TOOBIG ->
// RESOURCE_EXHAUSTED, BUSY / LOCKED -> UNAVAILABLE, others -> INTERNAL.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view context);

// One prepared statement, borrowed from the connection's cache until this handle dies.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Parameters are 1-based (?1, ?2, ...). Text and blobs are copied by SQLite.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, double value);
  Statement& BindText(int index, absl::string_view value);
  Statement& BindBlob(int index, absl::string_view value);
  Statement& BindNull(int index);
  // A time as Unix microseconds; InfinitePast (and InfiniteFuture when null_if_future) as NULL.
  Statement& BindTime(int index, absl::Time time, bool null_if_future = false);

  // Runs one step: true with a row to read, false when done. The first bind error surfaces here.
  absl::StatusOr<bool> Step();
  // Runs to completion, for statements that return no rows.
  absl::Status Run();

  // Columns are 0-based.
  bool IsNull(int column) const;
  int64_t Int(int column) const;
  double Real(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  // NULL reads as `if_null`.
  absl::Time Time(int column, absl::Time if_null = absl::InfinitePast()) const;

 private:
  void Note(int rc);

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_error_ = SQLITE_OK;
};

class Connection {
 public:
  // Takes ownership of an open handle.
  explicit Connection(sqlite3* db) : db_(db) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  sqlite3* raw() const { return db_; }

  // Runs SQL with no parameters (schema, pragmas); several statements allowed.
  absl::Status Exec(absl::string_view sql);
  // The cached statement for `sql`, prepared on first use.
  absl::StatusOr<Statement> Prepare(absl::string_view sql);

  // BEGIN IMMEDIATE ... COMMIT: the write lock is taken at the start, so a transaction never
  // fails half-way for another writer. Rolled back on destruction unless Commit() succeeded.
  class Transaction {
   public:
    Transaction(Transaction&& other) noexcept : connection_(other.connection_) {
      other.connection_ = nullptr;
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();
    absl::Status Commit();

   private:
    friend class Connection;
    explicit Transaction(Connection* connection) : connection_(connection) {}
    Connection* connection_;
  };
  absl::StatusOr<Transaction> Begin();

 private:
  sqlite3* db_;
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace plumb::coordinator::sqlite

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_SQLITE_CONNECTION_H_
