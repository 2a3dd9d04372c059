// How plumbctl prints jobs, events and workers for people: aligned tables, a readable status
// block and one line per event. Pure functions of the messages (and of `now` for ages), so tests
// compare exact text.
#ifndef PLUMB_SERVICES_PLUMBCTL_JOB_TEXT_H_
#define PLUMB_SERVICES_PLUMBCTL_JOB_TEXT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "plumb/v1/coordinator.pb.h"

namespace plumb::plumbctl {

// `text` with control characters (newlines, terminal escapes in a server's message) written as
// \xNN, so whatever a server sends prints on one line and cannot drive the terminal.
std::string OneLine(const std::string& text);

// Rows under `headers`, each column as wide as its widest cell, two spaces apart, no trailing
// blanks; every line ends with '\n'.
std::string FormatTable(const std::vector<std::string>& headers,
                        const std::vector<std::vector<std::string>>& rows);

// "-" for an unset timestamp, else "2026-12-03T17:44:00Z" (UTC, whole seconds).
std::string FormatTimestamp(const google::protobuf::Timestamp& time);
absl::Time ToAbslTime(const google::protobuf::Timestamp& time);
// "45s", "12m", "3h", "5d"; "-" when `since` is unset.
std::string FormatAge(const google::protobuf::Timestamp& since, absl::Time now);
// "1h02m", "3m05s", "42s".
std::string FormatEta(absl::Duration remaining);
// Metrics sorted by name: "kl=0.0123 reward_mean=0.5".
std::string FormatMetrics(const google::protobuf::Map<std::string, double>& metrics);
// A metric value: 4 significant digits, or "-" for a missing one.
std::string FormatNumber(double value);

// Rounds a stage runs (Stage.rounds, 0 = 1); 0 when the spec has no stage `index`.
int StageRounds(const v1::JobSpec& spec, int index);

// `plumbctl list`: JOB ID, NAME, KIND, STATE, STAGE/ROUND, PROGRESS, AGE. Rounds are shown
// 1-based ("ppo 3" is the third round of stage ppo), out of the stage's total when the spec is
// known.
std::string FormatJobTable(const std::vector<v1::Job>& jobs, absl::Time now);
// `plumbctl status`: one "key: value" line per field, then the metrics sorted by name.
std::string FormatJobStatus(const v1::Job& job);
// `plumbctl events`: sequence, time, type, stage/round, message, metrics (and a TRAIN_STEP's
// losses), tab-free and on one line (newlines in messages are escaped).
std::string FormatEventLine(const v1::JobEvent& event);
// `plumbctl workers`: WORKER ID, ROLE, ENDPOINT, STATE, ACTIVE, QUEUED, UTIL, VERSION, JOB,
// HEARTBEAT (age of the last heartbeat).
std::string FormatWorkerTable(const std::vector<v1::WorkerInfo>& workers, absl::Time now);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_JOB_TEXT_H_
