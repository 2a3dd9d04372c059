#include "services/plumb-coordinator/worker_pool.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb::coordinator {

std::string WorkerRoleName(WorkerRole role) {
  switch (role) {
    case WorkerRole::kGenerator:
      return "generator";
    case WorkerRole::kScorer:
      return "scorer";
    case WorkerRole::kReference:
      return "reference";
    case WorkerRole::kLearner:
      return "learner";
  }
  return absl::StrCat("role(", static_cast<int>(role), ")");
}

WorkerPool::WorkerPool(absl::Duration heartbeat_interval, absl::Duration lease_duration,
                       Clock clock)
    : heartbeat_interval_(heartbeat_interval),
      lease_duration_(lease_duration),
      clock_(std::move(clock)) {}

void WorkerPool::AddStatic(WorkerRole role, const std::string& endpoint) {
  const std::string id = absl::StrCat(WorkerRoleName(role), "@", endpoint);
  absl::MutexLock lock(&mu_);
  if (workers_.contains(id)) return;
  Worker worker;
  worker.worker_id = id;
  worker.role = role;
  worker.endpoint = endpoint;
  worker.is_static = true;
  worker.register_time = clock_();
  workers_[id] = std::move(worker);
}

absl::StatusOr<std::string> WorkerPool::Register(const Registration& r) {
  if (static_cast<int>(r.role) < 1 || static_cast<int>(r.role) > kMaxWorkerRoleValue) {
    return absl::InvalidArgumentError(
        absl::StrCat("role: ", static_cast<int>(r.role), " is not a worker role"));
  }
  if (r.endpoint.empty() || r.endpoint.size() > kMaxEndpointBytes ||
      r.endpoint.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint: must be host:port, at most ", kMaxEndpointBytes, " bytes"));
  }
  if (r.instance_id.empty() || r.instance_id.size() > kMaxInstanceIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance_id: required, at most ", kMaxInstanceIdBytes, " bytes"));
  }
  if (r.capacity < 0 || r.capacity > kMaxWorkerCapacity) {
    return absl::InvalidArgumentError(
        absl::StrCat("capacity: ", r.capacity, " is outside [0, ", kMaxWorkerCapacity, "]"));
  }
  if (r.labels.size() > kMaxLabels) {
    return absl::InvalidArgumentError(
        absl::StrCat("labels: ", r.labels.size(), " entries; at most ", kMaxLabels));
  }
  absl::MutexLock lock(&mu_);
  std::string replaced;
  for (auto& [id, worker] : workers_) {
    if (worker.is_static) continue;
    if (worker.instance_id == r.instance_id) {
      worker.endpoint = r.endpoint;
      worker.capacity = r.capacity;
      worker.labels = r.labels;
      worker.last_heartbeat = clock_();
      return id;
    }
    if (worker.endpoint == r.endpoint && worker.role == r.role) replaced = id;
  }
  if (!replaced.empty()) workers_.erase(replaced);
  if (workers_.size() >= kMaxWorkers) {
    return absl::ResourceExhaustedError(absl::StrCat("at most ", kMaxWorkers, " workers"));
  }
  Worker worker;
  worker.worker_id = absl::StrFormat("w-%s-%d", WorkerRoleName(r.role), next_id_++);
  worker.instance_id = r.instance_id;
  worker.role = r.role;
  worker.endpoint = r.endpoint;
  worker.capacity = r.capacity;
  worker.labels = r.labels;
  worker.register_time = clock_();
  worker.last_heartbeat = worker.register_time;
  const std::string id = worker.worker_id;
  workers_[id] = std::move(worker);
  return id;
}

absl::Status WorkerPool::Heartbeat(const std::string& worker_id, const WorkerLoadReport& load) {
  if (!std::isfinite(load.utilization) || load.utilization < 0 || load.utilization > 1) {
    return absl::InvalidArgumentError("load.utilization: must be a finite number in [0, 1]");
  }
  if (load.active_requests < 0 || load.queued < 0) {
    return absl::InvalidArgumentError("load: active_requests and queued must be >= 0");
  }
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second.is_static) {
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " is not registered (call RegisterWorker again)"));
  }
  if (HealthOf(it->second) == WorkerHealth::kLost) {
    // Its lease ran out: its work was rescheduled; it must join again as a new worker.
    workers_.erase(it);
    return absl::NotFoundError(
        absl::StrCat("worker ", worker_id, " expired (call RegisterWorker again)"));
  }
  it->second.load = load;
  it->second.last_heartbeat = clock_();
  unreachable_.erase(worker_id);
  return absl::OkStatus();
}

absl::Status WorkerPool::Deregister(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it != workers_.end() && it->second.is_static) {
    return absl::FailedPreconditionError(
        absl::StrCat("worker ", worker_id, " comes from the coordinator's config"));
  }
  if (it != workers_.end()) {
    workers_.erase(it);
    return absl::OkStatus();
  }
  // Ids this pool issued look like w-<role>-<n> with n < next_id_.
  if (worker_id.rfind("w-", 0) == 0) return absl::OkStatus();
  return absl::NotFoundError(absl::StrCat("worker ", worker_id, " was never registered"));
}

void WorkerPool::ReportUnreachable(const std::string& worker_id) {
  absl::MutexLock lock(&mu_);
  if (workers_.contains(worker_id)) unreachable_[worker_id] = true;
}

void WorkerPool::ReportProbe(const std::string& worker_id, bool serving) {
  absl::MutexLock lock(&mu_);
  if (!workers_.contains(worker_id)) return;
  if (serving) {
    unreachable_.erase(worker_id);
  } else {
    unreachable_[worker_id] = true;
  }
}

WorkerHealth WorkerPool::HealthOf(const Worker& worker) const {
  if (unreachable_.contains(worker.worker_id)) return WorkerHealth::kLost;
  if (!worker.is_static && clock_() - worker.last_heartbeat > lease_duration_) {
    return WorkerHealth::kLost;
  }
  if (worker.load.draining) return WorkerHealth::kDraining;
  return WorkerHealth::kHealthy;
}

std::vector<Worker> WorkerPool::List(bool include_lost) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<Worker> out;
  for (const auto& [id, worker] : workers_) {
    Worker copy = worker;
    copy.health = HealthOf(worker);
    if (copy.health == WorkerHealth::kLost && !include_lost) continue;
    out.push_back(std::move(copy));
  }
  std::stable_sort(out.begin(), out.end(), [](const Worker& a, const Worker& b) {
    return static_cast<int>(a.role) < static_cast<int>(b.role);
  });
  return out;
}

std::optional<Worker> WorkerPool::Find(const std::string& worker_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return std::nullopt;
  Worker copy = it->second;
  copy.health = HealthOf(it->second);
  return copy;
}

std::vector<Worker> WorkerPool::Healthy(WorkerRole role) const {
  std::vector<Worker> out;
  for (Worker& worker : List()) {
    if (worker.role == role && worker.health == WorkerHealth::kHealthy) {
      out.push_back(std::move(worker));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Worker& a, const Worker& b) {
    return a.load.active_requests + a.load.queued < b.load.active_requests + b.load.queued;
  });
  return out;
}

}  // namespace plumb::coordinator
