// The coordinator state database's schema, versioned by PRAGMA user_version and marked as
// Plumb's by PRAGMA application_id. Version 1 is the first; a later version adds a migration
// step from each earlier one (never edits this one in place).
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_SCHEMA_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_SCHEMA_H_

#include <cstdint>

#include "absl/status/status.h"
#include "services/plumb-coordinator/sqlite_connection.h"

namespace plumb::coordinator {

inline constexpr int kStateSchemaVersion = 1;
// "Plmb" in ASCII: PRAGMA application_id of every Plumb coordinator database.
inline constexpr int32_t kStateApplicationId = 0x506c6d62;

// Creates every table and index and sets application_id and user_version, in one transaction.
absl::Status CreateStateSchema(sqlite::Connection& db);

// OK when every table of the current schema exists; else FAILED_PRECONDITION naming the first
// missing one.
absl::Status CheckStateTables(sqlite::Connection& db);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_SCHEMA_H_
