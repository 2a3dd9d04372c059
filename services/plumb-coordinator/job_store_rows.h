// Rows of the state database <-> records, shared by the JobStore source files: the column lists
// of `jobs` and `events`, and readers that turn a row back into a record (a stored value that
// cannot be one, e.g. a state outside the enum, is DATA_LOSS: the file was damaged or edited).
//
// Thread safety: pure functions over a statement the caller owns.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_ROWS_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_ROWS_H_

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/plumb-coordinator/job_records.h"
#include "services/plumb-coordinator/sqlite_connection.h"

namespace plumb::coordinator {

// `time` as the store keeps it: whole microseconds; the infinities unchanged.
absl::Time StoredTime(absl::Time time);
// `time`, or now when it is InfinitePast (not set), as stored.
absl::Time StoredTimeOrNow(absl::Time time);

// uint64 values are kept as their int64 bit pattern.
inline int64_t ToColumn(uint64_t value) { return static_cast<int64_t>(value); }
inline uint64_t FromColumn(int64_t value) { return static_cast<uint64_t>(value); }

// "SELECT <job columns> FROM jobs" (spec replaced by an empty blob unless include_spec).
std::string SelectJobs(bool include_spec);
absl::StatusOr<JobRecord> ReadJobRow(const sqlite::Statement& row);

// Inserts every column of `job` (already checked, times stored).
absl::Status InsertJobRow(sqlite::Connection& db, const JobRecord& job);
// Writes the status columns of `job_id`.
absl::Status UpdateJobStatus(sqlite::Connection& db, absl::string_view job_id,
                             const JobStatusRecord& status);

inline constexpr char kSelectEvents[] =
    "SELECT job_id, sequence, time, type, state, stage_index, stage_name, iteration, round, "
    "message, metrics, error_code, worker_id, payload FROM events";
absl::StatusOr<EventRecord> ReadEventRow(const sqlite::Statement& row);
absl::Status InsertEventRow(sqlite::Connection& db, const EventRecord& event);

// Bit i set for each JobState i in `states` (an SQL filter: (?mask >> state) & 1); 0 for none.
// INVALID_ARGUMENT naming `field` for a value outside the enum.
absl::StatusOr<int64_t> StateMask(absl::Span<const JobState> states, absl::string_view field);

// A stored state, checked against the enum (DATA_LOSS naming `source` otherwise).
absl::StatusOr<JobState> StateFromColumn(int64_t value, absl::string_view source);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_ROWS_H_
