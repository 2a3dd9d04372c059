// Reads the calling process' resource usage from Linux /proc. The parsers take file contents so
// tests can feed them fixed text; ReadProcessSample() does the reading.
//
// Pure functions apart from the file reads; safe to call from any thread.
#ifndef PLUMB_COMMON_METRICS_PROC_SELF_H_
#define PLUMB_COMMON_METRICS_PROC_SELF_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::metrics {

// The fields of /proc/<pid>/stat the process metrics need (proc(5) numbers them 14, 15, 22, 23
// and 24).
struct ProcStat {
  uint64_t user_ticks = 0;    // CPU time in user mode, in clock ticks.
  uint64_t system_ticks = 0;  // CPU time in kernel mode, in clock ticks.
  uint64_t start_ticks = 0;   // Start time, in clock ticks after boot.
  uint64_t virtual_memory_bytes = 0;
  uint64_t resident_pages = 0;
};

// Parses one /proc/<pid>/stat line. The command name (field 2) may hold spaces and parentheses,
// so fields are counted from the last ')'.
absl::StatusOr<ProcStat> ParseProcStat(absl::string_view contents);

// Parses the "btime" line of /proc/stat: the boot time in seconds since the Unix epoch.
absl::StatusOr<int64_t> ParseBootTimeSeconds(absl::string_view proc_stat);

// The process_* metric values at one moment, in the units their names promise.
struct ProcessSample {
  double cpu_seconds = 0;
  double resident_memory_bytes = 0;
  double virtual_memory_bytes = 0;
  double start_time_seconds = 0;  // Since the Unix epoch.
  double open_fds = 0;            // Counts the descriptor used to list /proc/self/fd.
  double max_fds = 0;             // The soft RLIMIT_NOFILE.
};

// Reads /proc/self/stat, /proc/stat, /proc/self/fd and the fd limit.
absl::StatusOr<ProcessSample> ReadProcessSample();

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_PROC_SELF_H_
