// The coordinator without gRPC: accepts jobs into the JobStore, schedules them onto the worker
// pool, runs each on its own thread (JobRunner), cancels them, and wakes watchers when events are
// committed. The gRPC adapter (coordinator_service.h) converts requests and answers.
//
// Scheduling: every tick, the QUEUED jobs (and RUNNING jobs without a runner: resumed after a
// restart) are taken by priority (higher first), then age. A job needs one learner, one
// reference and its generators (generator_replicas, or every free healthy one; at least one)
// for itself — they hold its state and are leased in the store, all or none — plus a healthy
// scorer, which jobs share. A job that cannot get them stays QUEUED with the reason in its
// status (last_error) and one LOG event per change of reason; jobs that fit run at once.
//
// Threading: one scheduler thread, one prober thread (health of the configured workers), one
// thread per running job. Every public method may be called from any thread.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_CORE_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_CORE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/plumb-coordinator/client_factory.h"
#include "services/plumb-coordinator/job_plan.h"
#include "services/plumb-coordinator/job_runner.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/worker_pool.h"

namespace plumb::coordinator {

struct CoordinatorOptions {
  int max_queued_jobs = 1000;
  absl::Duration schedule_interval = absl::Milliseconds(200);
  absl::Duration probe_interval = absl::Seconds(2);
  // A job's output_dir when its spec leaves it empty: "<job_root>/<job id>" (a path on the
  // learner's filesystem, relative to its checkpoint root unless absolute).
  std::string job_root = "jobs";
  CoordinatorMetrics* metrics = nullptr;  // may be null; must outlive the core
};

struct Submitted {
  JobRecord job;
  bool created = false;
};

class CoordinatorCore {
 public:
  // Decodes a stored spec (opaque bytes: the adapter's serialized JobSpec) into its plan.
  using PlanDecoder = std::function<absl::StatusOr<JobPlan>(const std::string& spec)>;
  // Whether the worker at `endpoint` answers its health check as SERVING.
  using HealthProbe = std::function<bool(WorkerRole role, const std::string& endpoint)>;

  CoordinatorCore(JobStore* store, WorkerPool* pool, ClientFactory* clients, PlanDecoder decode,
                  HealthProbe probe, CoordinatorOptions options);
  ~CoordinatorCore();

  // Starts the scheduler and prober threads. RUNNING jobs found in the store resume.
  void Start();
  // Interrupts running jobs (they stay RUNNING in the store) and joins every thread.
  void Stop();

  // Enqueues `job` (spec, spec_hash, owner, name, kind, priority, labels, idempotency key set
  // by the caller; `plan` already validated). RESOURCE_EXHAUSTED when the queue is full;
  // ALREADY_EXISTS / created = false as JobStore::CreateJob.
  absl::StatusOr<Submitted> Submit(JobRecord job, const JobPlan& plan);
  // CancelJob's semantics (coordinator.proto). NOT_FOUND / FAILED_PRECONDITION as documented.
  absl::StatusOr<JobStatusRecord> Cancel(const std::string& job_id, const std::string& reason);
  // Blocks until an event of `job_id` newer than `after_sequence` may exist, `timeout` passes,
  // or Stop(); returns false only on Stop().
  bool WaitForEvents(const std::string& job_id, uint64_t after_sequence, absl::Duration timeout);

  JobStore& store() { return *store_; }
  WorkerPool& pool() { return *pool_; }
  bool stopping() const;

 private:
  struct Running {
    std::unique_ptr<JobRunner> runner;
    std::thread thread;
    bool done = false;
  };
  void ScheduleLoop();
  void ProbeLoop();
  void ScheduleOnce();
  // Leases workers for `job` and starts its runner; returns the reason it cannot run, if so.
  std::string TryStart(const JobRecord& job, const JobPlan& plan);
  void NoteWaiting(const JobRecord& job, const std::string& reason);
  void Reap();

  JobStore* const store_;
  WorkerPool* const pool_;
  ClientFactory* const clients_;
  const PlanDecoder decode_;
  const HealthProbe probe_;
  const CoordinatorOptions options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::unique_ptr<Running>> running_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> waiting_reason_ ABSL_GUARDED_BY(mu_);
  // Plans of the live jobs, decoded once (decoding re-checks paths on disk): every tick would
  // otherwise decode every waiting job's spec again.
  std::map<std::string, JobPlan> plans_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> last_sequence_ ABSL_GUARDED_BY(mu_);  // per job, from events
  std::thread scheduler_;
  std::thread prober_;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_CORE_H_
