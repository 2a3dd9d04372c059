// The coordinator's Prometheus metrics (served on its /metrics endpoint):
//   plumb_coordinator_jobs{state}                       jobs per state (a collector reads the
//   store) plumb_coordinator_workers{role,health}              workers per role and health
//   plumb_coordinator_rounds_total                      rounds completed
//   plumb_coordinator_round_seconds                     wall time of a round (histogram)
//   plumb_coordinator_phase_seconds_total{phase}        generate, score, reference, train, publish
//   plumb_coordinator_rollouts_total                    rollouts trained on
//   plumb_coordinator_retries_total                     rounds retried (a worker failed them)
//   plumb_coordinator_lost_generators_total             generators dropped mid-round
//   plumb_coordinator_dropped_stale_rollouts_total      asynchronous rounds: rollouts too old
//   plumb_coordinator_policy_versions_behind            of the last round: learner version minus
//                                                       the oldest rollout's (the policy lag)
//   plumb_coordinator_generator_idle_fraction           of the last round: 1 - generate / round
//   plumb_coordinator_learner_idle_fraction             of the last round: 1 - train / round
// The idle fractions are what asynchronous rounds exist to lower.
//
// Thread safety: the metric objects are thread-safe; construct once at start-up.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_METRICS_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_METRICS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/worker_pool.h"

namespace plumb::coordinator {

struct RoundFigures {
  double seconds = 0;
  double generate = 0, score = 0, reference = 0, train = 0, publish = 0;
  double rollouts = 0;
  double lost_generators = 0;
  double dropped_stale = 0;   // asynchronous rounds: rollouts past max_policy_lag
  double version_behind = 0;  // the learner's version minus the oldest rollout's, after training
};

class CoordinatorMetrics {
 public:
  // Registers the families and a collector reading `store` and `pool` at each scrape.
  static absl::StatusOr<std::unique_ptr<CoordinatorMetrics>> Create(metrics::Registry* registry,
                                                                    JobStore* store,
                                                                    WorkerPool* pool);
  void RoundCompleted(const RoundFigures& figures);
  void RoundRetried();

 private:
  CoordinatorMetrics() = default;
  metrics::Counter* rounds_ = nullptr;
  metrics::Histogram* round_seconds_ = nullptr;
  metrics::CounterFamily* phase_seconds_ = nullptr;
  metrics::Counter* rollouts_ = nullptr;
  metrics::Counter* retries_ = nullptr;
  metrics::Counter* lost_generators_ = nullptr;
  metrics::Counter* dropped_stale_ = nullptr;
  metrics::Gauge* versions_behind_ = nullptr;
  metrics::Gauge* generator_idle_ = nullptr;
  metrics::Gauge* learner_idle_ = nullptr;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_METRICS_H_
