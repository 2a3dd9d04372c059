#include "common/metrics/process_metrics.h"

#include "common/metrics/proc_self.h"
#include "common/status/status_macros.h"

namespace plumb::metrics {
namespace {

// The children the collector writes; they live as long as the registry, which owns the collector.
struct ProcessMetrics {
  Counter* cpu_seconds;
  Gauge* resident_memory_bytes;
  Gauge* virtual_memory_bytes;
  Gauge* start_time_seconds;
  Gauge* open_fds;
  Gauge* max_fds;

  void Update(const ProcessSample& sample) const {
    cpu_seconds->AdvanceTo(sample.cpu_seconds);
    resident_memory_bytes->Set(sample.resident_memory_bytes);
    virtual_memory_bytes->Set(sample.virtual_memory_bytes);
    start_time_seconds->Set(sample.start_time_seconds);
    open_fds->Set(sample.open_fds);
    max_fds->Set(sample.max_fds);
  }
};

absl::StatusOr<Gauge*> AddUnlabelledGauge(Registry* registry, absl::string_view name,
                                          absl::string_view help) {
  ASSIGN_OR_RETURN(GaugeFamily * family, registry->AddGauge(name, help));
  return &family->WithLabels({});
}

}  // namespace

absl::Status RegisterProcessMetrics(Registry* registry) {
  ASSIGN_OR_RETURN(const ProcessSample first_sample, ReadProcessSample());
  ProcessMetrics metrics{};
  ASSIGN_OR_RETURN(CounterFamily * cpu,
                   registry->AddCounter("process_cpu_seconds_total",
                                        "Total user and system CPU time spent in seconds."));
  metrics.cpu_seconds = &cpu->WithLabels({});
  ASSIGN_OR_RETURN(metrics.resident_memory_bytes,
                   AddUnlabelledGauge(registry, "process_resident_memory_bytes",
                                      "Resident memory size in bytes."));
  ASSIGN_OR_RETURN(metrics.virtual_memory_bytes,
                   AddUnlabelledGauge(registry, "process_virtual_memory_bytes",
                                      "Virtual memory size in bytes."));
  ASSIGN_OR_RETURN(metrics.start_time_seconds,
                   AddUnlabelledGauge(registry, "process_start_time_seconds",
                                      "Start time of the process since unix epoch in seconds."));
  ASSIGN_OR_RETURN(metrics.open_fds, AddUnlabelledGauge(registry, "process_open_fds",
                                                        "Number of open file descriptors."));
  ASSIGN_OR_RETURN(metrics.max_fds, AddUnlabelledGauge(registry, "process_max_fds",
                                                       "Maximum number of open file descriptors."));
  metrics.Update(first_sample);
  registry->AddCollector([metrics] {
    if (absl::StatusOr<ProcessSample> sample = ReadProcessSample(); sample.ok()) {
      metrics.Update(*sample);
    }
  });
  return absl::OkStatus();
}

}  // namespace plumb::metrics
