// The standard process_* metrics, under the names Prometheus' own client libraries use so stock
// dashboards work: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds.
#ifndef PLUMB_COMMON_METRICS_PROCESS_METRICS_H_
#define PLUMB_COMMON_METRICS_PROCESS_METRICS_H_

#include "absl/status/status.h"
#include "common/metrics/registry.h"

namespace plumb::metrics {

// Registers the process metrics in `registry` with a collector that refreshes them from /proc at
// every scrape. Linux only: reads /proc once up front and returns that error (Unavailable) when it
// cannot. A later read that fails leaves the previous values in place. Call once per registry.
absl::Status RegisterProcessMetrics(Registry* registry);

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_PROCESS_METRICS_H_
