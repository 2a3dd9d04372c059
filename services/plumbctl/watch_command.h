// `plumbctl watch` and `plumbctl events`: the two readers of Coordinator.WatchJob.
#ifndef PLUMB_SERVICES_PLUMBCTL_WATCH_COMMAND_H_
#define PLUMB_SERVICES_PLUMBCTL_WATCH_COMMAND_H_

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/plumbctl/commands.h"

namespace plumb::plumbctl {

// plumbctl's exit codes.
inline constexpr int kExitSucceeded = 0;
inline constexpr int kExitFailed = 1;  // also: an RPC or other runtime error
inline constexpr int kExitUsage = 2;   // bad flags, or connection settings that cannot work
inline constexpr int kExitCancelled = 3;

// watch's exit code for a terminal job state: SUCCEEDED 0, FAILED 1, CANCELLED 3.
int ExitCodeForState(v1::JobState state);

struct WatchOptions {
  bool terminal = false;  // stdout is a terminal: redraw the progress line in place
  // A stream that breaks (UNAVAILABLE, RESOURCE_EXHAUSTED, or an end before the job is terminal)
  // is resumed after the last sequence received, after initial_backoff doubling up to
  // max_backoff; after max_reconnects breaks in a row with no event between them, watch gives up.
  int max_reconnects = 10;
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(5);
};

// Follows the job to its end, printing progress (progress_display.h) to `out` and reconnect
// notes to `err`. Returns the exit code for the job's final state, or the error that stopped
// watching (NOT_FOUND, or the last break after max_reconnects).
absl::StatusOr<int> RunWatch(Connection& connection, const std::string& job_id,
                             const WatchOptions& options, std::ostream& out, std::ostream& err);

// Prints the job's stored events with sequence > after_sequence, one per line
// (job_text.h FormatEventLine), and returns once it has printed the job's latest event as of the
// start (JobStatus.last_event_sequence): on a running job it does not wait for new events. The
// whole read is bounded by the connection's timeout.
absl::Status RunEvents(Connection& connection, const std::string& job_id, uint64_t after_sequence,
                       std::ostream& out);

// The job's stored events with sequence > after_sequence, up to its latest as of the call, each
// passed to `on_event` (RunEvents prints them; plumbctl report collects them).
absl::Status ReadStoredEvents(Connection& connection, const std::string& job_id,
                              uint64_t after_sequence,
                              const std::function<void(const v1::JobEvent&)>& on_event);

// GetJob.
absl::StatusOr<v1::Job> GetJob(Connection& connection, const std::string& job_id);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_WATCH_COMMAND_H_
