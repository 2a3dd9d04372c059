#include "services/plumb-coordinator/coordinator_core.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace plumb::coordinator {
namespace {

constexpr int kStateChanged = 1;  // plumb.v1.JobEventType
constexpr int kLog = 12;

}  // namespace

CoordinatorCore::CoordinatorCore(JobStore* store, WorkerPool* pool, ClientFactory* clients,
                                 PlanDecoder decode, HealthProbe probe, CoordinatorOptions options)
    : store_(store),
      pool_(pool),
      clients_(clients),
      decode_(std::move(decode)),
      probe_(std::move(probe)),
      options_(std::move(options)) {
  store_->SetEventListener([this](const EventRecord& event) {
    absl::MutexLock lock(&mu_);
    uint64_t& last = last_sequence_[event.job_id];
    last = std::max(last, event.sequence);
  });
}

CoordinatorCore::~CoordinatorCore() {
  Stop();
  store_->SetEventListener(nullptr);
}

bool CoordinatorCore::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void CoordinatorCore::Start() {
  scheduler_ = std::thread([this] { ScheduleLoop(); });
  if (probe_) prober_ = std::thread([this] { ProbeLoop(); });
}

void CoordinatorCore::Stop() {
  std::map<std::string, std::unique_ptr<Running>> running;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && running_.empty() && !scheduler_.joinable()) return;
    stopping_ = true;
  }
  if (scheduler_.joinable()) scheduler_.join();
  if (prober_.joinable()) prober_.join();
  {
    absl::MutexLock lock(&mu_);
    running.swap(running_);
  }
  for (auto& [id, r] : running) r->runner->Stop();
  for (auto& [id, r] : running) {
    if (r->thread.joinable()) r->thread.join();
  }
}

absl::StatusOr<Submitted> CoordinatorCore::Submit(JobRecord job, const JobPlan& plan) {
  if (stopping()) return absl::UnavailableError("the coordinator is shutting down");
  const JobState queued[] = {JobState::kQueued};
  absl::StatusOr<int64_t> waiting = store_->CountJobsInStates(queued);
  if (!waiting.ok()) return waiting.status();
  if (*waiting >= options_.max_queued_jobs) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the job queue is full (", *waiting,
                     " queued; coordinator.max_queued_jobs = ", options_.max_queued_jobs, ")"));
  }
  job.status = JobStatusRecord();
  job.status.state = JobState::kQueued;
  job.status.seed = plan.seed;
  job.status.stage_name = plan.stages.empty() ? "" : plan.stages[0].name;
  EventRecord first;
  first.type = kStateChanged;
  first.message = "submitted";
  absl::StatusOr<JobStore::Created> created = store_->CreateJob(std::move(job), first);
  if (!created.ok()) return created.status();
  return Submitted{std::move(created->job), created->created};
}

absl::StatusOr<JobStatusRecord> CoordinatorCore::Cancel(const std::string& job_id,
                                                        const std::string& reason) {
  bool running_now = false;
  absl::StatusOr<EventRecord> event =
      store_->UpdateJob(job_id, [&](const JobRecord& current) -> absl::StatusOr<JobUpdate> {
        JobUpdate update;
        JobStatusRecord status = current.status;
        switch (current.status.state) {
          case JobState::kSucceeded:
          case JobState::kFailed:
            return absl::FailedPreconditionError(
                absl::StrCat("job ", job_id, " already ", JobStateName(current.status.state)));
          case JobState::kCancelled:
            return absl::AlreadyExistsError("cancelled");  // idempotent: answered below
          case JobState::kQueued:
            status.state = JobState::kCancelled;
            status.end_time = absl::Now();
            update.event.type = kStateChanged;
            break;
          default:
            status.cancel_requested = true;
            running_now = true;
            update.event.type = kLog;
        }
        update.event.message = absl::StrCat("cancel requested", reason.empty() ? "" : ": ", reason);
        update.status = status;
        return update;
      });
  if (absl::IsAlreadyExists(event.status())) {
    absl::StatusOr<JobRecord> job = store_->GetJob(job_id, false);
    if (!job.ok()) return job.status();
    return job->status;
  }
  if (!event.ok()) return event.status();
  if (running_now) {
    absl::MutexLock lock(&mu_);
    auto it = running_.find(job_id);
    if (it != running_.end()) it->second->runner->Cancel();
  }
  absl::StatusOr<JobRecord> job = store_->GetJob(job_id, false);
  if (!job.ok()) return job.status();
  return job->status;
}

bool CoordinatorCore::WaitForEvents(const std::string& job_id, uint64_t after_sequence,
                                    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    if (stopping_) return true;
    auto it = last_sequence_.find(job_id);
    return it != last_sequence_.end() && it->second > after_sequence;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return !stopping_;
}

void CoordinatorCore::ScheduleLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.schedule_interval)) return;
    }
    Reap();
    ScheduleOnce();
  }
}

void CoordinatorCore::ProbeLoop() {
  while (true) {
    for (const Worker& worker : pool_->List(/*include_lost=*/true)) {
      if (!worker.is_static) continue;
      pool_->ReportProbe(worker.worker_id, probe_(worker.role, worker.endpoint));
    }
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.probe_interval)) return;
  }
}

void CoordinatorCore::Reap() {
  std::vector<std::unique_ptr<Running>> finished;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->done) {
        finished.push_back(std::move(it->second));
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& r : finished) {
    if (r->thread.joinable()) r->thread.join();
  }
}

void CoordinatorCore::ScheduleOnce() {
  const JobState live[] = {JobState::kQueued, JobState::kRunning};
  absl::StatusOr<std::vector<JobRecord>> jobs = store_->JobsInStates(live);
  if (!jobs.ok()) return;
  {
    // Plans of jobs no longer live (ended, or cancelled while queued) are dropped.
    std::set<std::string> ids;
    for (const JobRecord& job : *jobs) ids.insert(job.job_id);
    absl::MutexLock lock(&mu_);
    for (auto it = plans_.begin(); it != plans_.end();) {
      it = ids.contains(it->first) ? std::next(it) : plans_.erase(it);
    }
  }
  std::stable_sort(jobs->begin(), jobs->end(), [](const JobRecord& a, const JobRecord& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.status.create_time < b.status.create_time;
  });
  for (const JobRecord& job : *jobs) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      if (running_.contains(job.job_id)) continue;
    }
    if (job.status.cancel_requested) {  // cancelled while no runner held it (a restart)
      JobUpdate update;
      JobStatusRecord status = job.status;
      status.state = JobState::kCancelled;
      status.cancel_requested = false;
      status.end_time = absl::Now();
      update.status = status;
      update.event.type = kStateChanged;
      update.event.message = "cancelled";
      (void)store_->AppendEvent(job.job_id, std::move(update));
      continue;
    }
    absl::StatusOr<JobPlan> plan = absl::UnknownError("not decoded");
    {
      absl::MutexLock lock(&mu_);
      if (auto it = plans_.find(job.job_id); it != plans_.end()) plan = it->second;
    }
    if (!plan.ok()) {
      plan = decode_(job.spec);
      if (plan.ok()) {
        absl::MutexLock lock(&mu_);
        plans_[job.job_id] = *plan;
      }
    }
    if (!plan.ok()) {
      JobUpdate update;
      JobStatusRecord status = job.status;
      status.state = JobState::kFailed;
      status.end_time = absl::Now();
      status.last_error = absl::StrCat("the stored spec cannot be read: ", plan.status().message());
      status.last_error_code = static_cast<int32_t>(plan.status().code());
      update.status = status;
      update.event.type = kStateChanged;
      update.event.message = status.last_error;
      (void)store_->AppendEvent(job.job_id, std::move(update));
      continue;
    }
    if (plan->output_dir.empty()) {
      plan->output_dir = absl::StrCat(options_.job_root, "/", job.job_id);
    }
    const std::string reason = TryStart(job, *plan);
    if (!reason.empty()) NoteWaiting(job, reason);
  }
}

void CoordinatorCore::NoteWaiting(const JobRecord& job, const std::string& reason) {
  {
    absl::MutexLock lock(&mu_);
    std::string& last = waiting_reason_[job.job_id];
    if (last == reason) return;
    last = reason;
  }
  JobUpdate update;
  JobStatusRecord status = job.status;
  status.last_error = reason;
  status.last_error_code = 0;
  update.status = status;
  update.event.type = kLog;
  update.event.message = reason;
  (void)store_->AppendEvent(job.job_id, std::move(update));
}

std::string CoordinatorCore::TryStart(const JobRecord& job, const JobPlan& plan) {
  absl::StatusOr<std::vector<LeaseRecord>> leases = store_->Leases();
  if (!leases.ok()) return absl::StrCat("waiting: ", leases.status().message());
  std::set<std::string> held;  // by another job
  for (const LeaseRecord& lease : *leases) {
    if (lease.job_id != job.job_id) held.insert(lease.worker_id);
  }
  auto free_of = [&](WorkerRole role) {
    std::vector<Worker> out;
    for (Worker& w : pool_->Healthy(role)) {
      if (!held.contains(w.worker_id)) out.push_back(std::move(w));
    }
    return out;
  };
  const std::vector<Worker> learners = free_of(WorkerRole::kLearner);
  const std::vector<Worker> references = free_of(WorkerRole::kReference);
  const std::vector<Worker> generators = free_of(WorkerRole::kGenerator);
  const std::vector<Worker> scorers = pool_->Healthy(WorkerRole::kScorer);
  int wanted_generators = 1;
  for (const StagePlan& stage : plan.stages) {
    wanted_generators = std::max(wanted_generators, stage.scheduling.generator_replicas);
  }
  std::vector<std::string> missing;
  if (learners.empty()) missing.push_back("a free learner");
  if (references.empty()) missing.push_back("a free reference");
  if (scorers.empty()) missing.push_back("a healthy scorer");
  if (static_cast<int>(generators.size()) < wanted_generators) {
    missing.push_back(
        absl::StrCat(wanted_generators, " free generator(s) (", generators.size(), " free)"));
  }
  if (!missing.empty()) {
    std::string reason = "waiting for workers: needs ";
    for (size_t i = 0; i < missing.size(); ++i) {
      absl::StrAppend(&reason, i == 0 ? "" : ", ", missing[i]);
    }
    return reason;
  }
  JobResources resources;
  std::vector<LeaseRecord> wanted;
  auto lease = [&](const Worker& w) {
    wanted.push_back({.job_id = job.job_id,
                      .worker_id = w.worker_id,
                      .role = static_cast<int>(w.role),
                      .endpoint = w.endpoint});
  };
  resources.learner = learners[0].endpoint;
  lease(learners[0]);
  resources.reference = references[0].endpoint;
  lease(references[0]);
  resources.scorer = scorers[0].endpoint;
  bool all_generators = true;
  for (const StagePlan& stage : plan.stages) {
    if (stage.scheduling.generator_replicas > 0) all_generators = false;
  }
  const size_t take = all_generators ? generators.size() : static_cast<size_t>(wanted_generators);
  for (size_t i = 0; i < take; ++i) {
    resources.generators.push_back(generators[i].endpoint);
    lease(generators[i]);
  }
  (void)store_->ReleaseLeases(job.job_id);  // a resumed job's old leases
  if (absl::Status status = store_->AcquireLeases(job.job_id, wanted); !status.ok()) {
    return absl::StrCat("waiting for workers: ", status.message());
  }
  if (job.status.state == JobState::kQueued) {
    absl::StatusOr<EventRecord> started =
        store_->UpdateJob(job.job_id, [&](const JobRecord& current) -> absl::StatusOr<JobUpdate> {
          if (current.status.state != JobState::kQueued) {
            return absl::FailedPreconditionError("no longer queued");
          }
          JobUpdate update;
          JobStatusRecord status = current.status;
          status.state = JobState::kRunning;
          status.start_time = absl::Now();
          status.last_error.clear();
          update.status = status;
          update.event.type = kStateChanged;
          update.event.message = absl::StrCat("running on learner ", resources.learner, ", ",
                                              resources.generators.size(), " generator(s)");
          return update;
        });
    if (!started.ok()) {
      (void)store_->ReleaseLeases(job.job_id);
      return "";  // cancelled meanwhile
    }
  }
  auto running = std::make_unique<Running>();
  RunnerEnv env{.store = store_, .clients = clients_, .pool = pool_, .metrics = options_.metrics};
  running->runner = std::make_unique<JobRunner>(env, job.job_id, plan, resources);
  Running* raw = running.get();
  absl::MutexLock lock(&mu_);
  waiting_reason_.erase(job.job_id);
  running_[job.job_id] = std::move(running);
  raw->thread = std::thread([this, raw, id = job.job_id] {
    const RunEnd end = raw->runner->Run();
    if (end != RunEnd::kInterrupted) (void)store_->ReleaseLeases(id);
    absl::MutexLock done_lock(&mu_);
    raw->done = true;
  });
  return "";
}

}  // namespace plumb::coordinator
