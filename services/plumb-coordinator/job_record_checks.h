// Bounds on what JobStore writes (job_records.h lists them): every record is checked before any
// SQL runs, and a violation is INVALID_ARGUMENT naming the field ("event.stage_name: 300 bytes;
// at most 128"). Free text is cut instead (CutFreeText).
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RECORD_CHECKS_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RECORD_CHECKS_H_

#include <cstddef>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "services/plumb-coordinator/job_records.h"

namespace plumb::coordinator {

// `value` quoted for an error message (plumb::Echo: bounded, control bytes escaped).
std::string Quoted(absl::string_view value);

// `text` cut to at most kMaxFreeTextBytes, never inside a UTF-8 sequence, "…" appended when cut.
void CutFreeText(std::string& text);

// A job id given to a lookup: non-empty, at most kMaxJobIdBytes.
absl::Status CheckJobId(absl::string_view job_id, absl::string_view field);
absl::Status CheckState(JobState state, absl::string_view field);

// The identity fields of a job at CreateJob (job_id may be empty) and its status.
absl::Status CheckNewJob(const JobRecord& job);
absl::Status CheckStatus(const JobStatusRecord& status, absl::string_view field);
absl::Status CheckEvent(const EventRecord& event, absl::string_view field);
absl::Status CheckRound(const RoundRecord& round, absl::string_view field);
absl::Status CheckStage(const StageRecord& stage, absl::string_view field);
absl::Status CheckLease(const LeaseRecord& lease, absl::string_view field);
absl::Status CheckCheckpoint(const CheckpointRecord& checkpoint, absl::string_view field);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_RECORD_CHECKS_H_
