#include "services/plumb-coordinator/coordinator_metrics.h"

#include <string>

#include "common/status/status_macros.h"

namespace plumb::coordinator {

absl::StatusOr<std::unique_ptr<CoordinatorMetrics>> CoordinatorMetrics::Create(
    metrics::Registry* registry, JobStore* store, WorkerPool* pool) {
  std::unique_ptr<CoordinatorMetrics> m(new CoordinatorMetrics());
  ASSIGN_OR_RETURN(metrics::GaugeFamily * jobs,
                   registry->AddGauge("plumb_coordinator_jobs", "Jobs per state.", {"state"}));
  ASSIGN_OR_RETURN(metrics::GaugeFamily * workers,
                   registry->AddGauge("plumb_coordinator_workers", "Workers per role and health.",
                                      {"role", "health"}));
  ASSIGN_OR_RETURN(metrics::CounterFamily * rounds,
                   registry->AddCounter("plumb_coordinator_rounds_total", "Rounds completed."));
  m->rounds_ = &rounds->WithLabels({});
  ASSIGN_OR_RETURN(
      metrics::HistogramFamily * round_seconds,
      registry->AddHistogram("plumb_coordinator_round_seconds", "Wall time of a round.", {},
                             {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}));
  m->round_seconds_ = &round_seconds->WithLabels({});
  ASSIGN_OR_RETURN(m->phase_seconds_,
                   registry->AddCounter("plumb_coordinator_phase_seconds_total",
                                        "Seconds spent per round phase.", {"phase"}));
  ASSIGN_OR_RETURN(
      metrics::CounterFamily * rollouts,
      registry->AddCounter("plumb_coordinator_rollouts_total", "Rollouts trained on."));
  m->rollouts_ = &rollouts->WithLabels({});
  ASSIGN_OR_RETURN(metrics::CounterFamily * retries,
                   registry->AddCounter("plumb_coordinator_retries_total",
                                        "Rounds retried after a worker failed them."));
  m->retries_ = &retries->WithLabels({});
  ASSIGN_OR_RETURN(metrics::CounterFamily * lost,
                   registry->AddCounter("plumb_coordinator_lost_generators_total",
                                        "Generators dropped in the middle of a round."));
  m->lost_generators_ = &lost->WithLabels({});
  ASSIGN_OR_RETURN(metrics::CounterFamily * dropped,
                   registry->AddCounter("plumb_coordinator_dropped_stale_rollouts_total",
                                        "Rollouts dropped as older than max_policy_lag."));
  m->dropped_stale_ = &dropped->WithLabels({});
  ASSIGN_OR_RETURN(metrics::GaugeFamily * behind,
                   registry->AddGauge("plumb_coordinator_policy_versions_behind",
                                      "Of the last round: the learner's policy version minus the "
                                      "oldest rollout's."));
  m->versions_behind_ = &behind->WithLabels({});
  ASSIGN_OR_RETURN(metrics::GaugeFamily * generator_idle,
                   registry->AddGauge("plumb_coordinator_generator_idle_fraction",
                                      "Of the last round: the share of its wall time the "
                                      "generators were not generating."));
  m->generator_idle_ = &generator_idle->WithLabels({});
  ASSIGN_OR_RETURN(metrics::GaugeFamily * learner_idle,
                   registry->AddGauge("plumb_coordinator_learner_idle_fraction",
                                      "Of the last round: the share of its wall time the "
                                      "learner was not training."));
  m->learner_idle_ = &learner_idle->WithLabels({});
  registry->AddCollector([jobs, workers, store, pool] {
    for (int s = 1; s <= kMaxJobStateValue; ++s) {
      const JobState state = static_cast<JobState>(s);
      const JobState one[] = {state};
      absl::StatusOr<int64_t> count = store->CountJobsInStates(one);
      if (count.ok()) jobs->WithLabels({JobStateName(state)}).Set(static_cast<double>(*count));
    }
    std::map<std::pair<std::string, std::string>, int> counts;
    for (int r = 1; r <= kMaxWorkerRoleValue; ++r) {
      for (const char* health : {"healthy", "draining", "lost"}) {
        counts[{WorkerRoleName(static_cast<WorkerRole>(r)), health}] = 0;
      }
    }
    for (const Worker& w : pool->List(/*include_lost=*/true)) {
      const char* health = w.health == WorkerHealth::kHealthy    ? "healthy"
                           : w.health == WorkerHealth::kDraining ? "draining"
                                                                 : "lost";
      ++counts[{WorkerRoleName(w.role), health}];
    }
    for (const auto& [key, n] : counts) {
      workers->WithLabels({key.first, key.second}).Set(n);
    }
  });
  return m;
}

void CoordinatorMetrics::RoundCompleted(const RoundFigures& f) {
  rounds_->Increment();
  round_seconds_->Observe(f.seconds);
  phase_seconds_->WithLabels({"generate"}).Increment(f.generate);
  phase_seconds_->WithLabels({"score"}).Increment(f.score);
  phase_seconds_->WithLabels({"reference"}).Increment(f.reference);
  phase_seconds_->WithLabels({"train"}).Increment(f.train);
  phase_seconds_->WithLabels({"publish"}).Increment(f.publish);
  rollouts_->Increment(f.rollouts);
  lost_generators_->Increment(f.lost_generators);
  dropped_stale_->Increment(f.dropped_stale);
  versions_behind_->Set(f.version_behind);
  if (f.seconds > 0) {
    generator_idle_->Set(std::max(0.0, 1 - f.generate / f.seconds));
    learner_idle_->Set(std::max(0.0, 1 - f.train / f.seconds));
  }
}

void CoordinatorMetrics::RoundRetried() { retries_->Increment(); }

}  // namespace plumb::coordinator
