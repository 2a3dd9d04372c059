// The workers the coordinator can send work to: endpoints per role from its config ("static"
// workers, present from start-up) and replicas that join with RegisterWorker and stay by
// heartbeating. Health: a registered worker silent for lease_duration is LOST; a static worker is
// LOST after a failed health probe or a call that found it unreachable, and healthy again after a
// probe answers SERVING. Which job holds a worker is the JobStore's business (leases); the pool
// only knows who exists and who is healthy.
//
// Thread safety: every method may be called from any thread.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_WORKER_POOL_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_WORKER_POOL_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/plumb-coordinator/job_records.h"

namespace plumb::coordinator {

// plumb.v1.WorkerRole numbers.
enum class WorkerRole : int { kGenerator = 1, kScorer = 2, kReference = 3, kLearner = 4 };
inline constexpr int kMaxWorkerRoleValue = 4;
// "generator", "scorer", "reference", "learner".
std::string WorkerRoleName(WorkerRole role);

// plumb.v1.WorkerState numbers.
enum class WorkerHealth : int { kHealthy = 1, kDraining = 2, kLost = 3 };

struct WorkerLoadReport {
  int32_t active_requests = 0;
  int32_t queued = 0;
  double utilization = 0;  // [0, 1]
  uint64_t policy_version = 0;
  bool draining = false;
};

struct Worker {
  std::string worker_id;
  std::string instance_id;  // empty for static workers
  WorkerRole role = WorkerRole::kGenerator;
  std::string endpoint;
  int32_t capacity = 0;
  LabelMap labels;
  bool is_static = false;
  WorkerHealth health = WorkerHealth::kHealthy;
  WorkerLoadReport load;
  absl::Time register_time = absl::InfinitePast();
  absl::Time last_heartbeat = absl::InfinitePast();
};

struct Registration {
  WorkerRole role = WorkerRole::kGenerator;
  std::string endpoint;  // host:port
  int32_t capacity = 0;
  LabelMap labels;
  std::string instance_id;
};

// Bounds on what a worker reports (INVALID_ARGUMENT naming the field beyond them).
inline constexpr size_t kMaxInstanceIdBytes = 128;
inline constexpr int32_t kMaxWorkerCapacity = 1 << 20;
inline constexpr size_t kMaxWorkers = 4096;

class WorkerPool {
 public:
  using Clock = std::function<absl::Time()>;
  WorkerPool(absl::Duration heartbeat_interval, absl::Duration lease_duration,
             Clock clock = absl::Now);

  absl::Duration heartbeat_interval() const { return heartbeat_interval_; }
  absl::Duration lease_duration() const { return lease_duration_; }

  // A worker from the config: id "<role>@<endpoint>", stable across restarts (leases in the
  // store name it). Adding the same one twice is a no-op.
  void AddStatic(WorkerRole role, const std::string& endpoint);

  // Idempotent per instance_id; a new instance at an endpoint already registered replaces the
  // old registration. INVALID_ARGUMENT for an empty/oversize endpoint or instance id, a negative
  // or huge capacity, too many labels; RESOURCE_EXHAUSTED past kMaxWorkers.
  absl::StatusOr<std::string> Register(const Registration& registration);
  // NOT_FOUND for an unknown id (register again); INVALID_ARGUMENT for non-finite or out-of-range
  // load values.
  absl::Status Heartbeat(const std::string& worker_id, const WorkerLoadReport& load);
  // Idempotent for ids this pool issued; NOT_FOUND for others. Static workers cannot leave.
  absl::Status Deregister(const std::string& worker_id);

  // A call found the worker unreachable (static workers: until a probe says otherwise;
  // registered ones: until their next heartbeat).
  void ReportUnreachable(const std::string& worker_id);
  // A health probe's answer for a static worker.
  void ReportProbe(const std::string& worker_id, bool serving);

  // Every worker (health refreshed against the clock), by role then id; LOST ones only with
  // include_lost.
  std::vector<Worker> List(bool include_lost = false) const;
  std::optional<Worker> Find(const std::string& worker_id) const;
  // Healthy (not draining, not lost) workers of `role`, least loaded first.
  std::vector<Worker> Healthy(WorkerRole role) const;

 private:
  WorkerHealth HealthOf(const Worker& worker) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const absl::Duration heartbeat_interval_;
  const absl::Duration lease_duration_;
  const Clock clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Worker> workers_ ABSL_GUARDED_BY(mu_);    // by worker_id
  std::map<std::string, bool> unreachable_ ABSL_GUARDED_BY(mu_);  // static ids marked down
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_WORKER_POOL_H_
