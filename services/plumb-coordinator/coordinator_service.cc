#include "services/plumb-coordinator/coordinator_service.h"

#include <xxhash.h>

#include <algorithm>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/message_checks.h"

namespace plumb::coordinator {
namespace {

constexpr int kMaxWatchBatch = 1000;
constexpr size_t kMaxCancelReasonBytes = 1024;

grpc::Status Grpc(const absl::Status& status) { return rpc::ToGrpcStatus(status); }

void ToProto(absl::Time time, google::protobuf::Timestamp* out) {
  if (time == absl::InfinitePast() || time == absl::InfiniteFuture()) return;
  const int64_t micros = absl::ToUnixMicros(time);
  int64_t seconds = micros / 1000000;
  int64_t rest = micros % 1000000;
  if (rest < 0) {
    rest += 1000000;
    --seconds;
  }
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(rest * 1000));
}

void ToProto(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t nanos = absl::ToInt64Nanoseconds(d);
  out->set_seconds(nanos / 1000000000);
  out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

void StatusToProto(const JobStatusRecord& s, v1::JobStatus* out) {
  out->set_state(static_cast<v1::JobState>(s.state));
  out->set_cancel_requested(s.cancel_requested);
  out->set_stage_index(s.stage_index);
  out->set_stage_name(s.stage_name);
  out->set_iteration(s.iteration);
  out->set_round(s.round);
  out->set_progress(s.progress);
  ToProto(s.create_time, out->mutable_create_time());
  ToProto(s.start_time, out->mutable_start_time());
  ToProto(s.end_time, out->mutable_end_time());
  ToProto(s.update_time, out->mutable_update_time());
  out->set_last_error(s.last_error);
  out->set_last_error_code(s.last_error_code);
  for (const auto& [name, value] : s.metrics) (*out->mutable_metrics())[name] = value;
  out->set_policy_version(s.policy_version);
  out->set_latest_checkpoint(s.latest_checkpoint);
  out->set_retries(s.retries);
  out->set_seed(s.seed);
  out->set_last_event_sequence(s.last_event_sequence);
}

void JobToProto(const JobRecord& job, bool with_spec, v1::Job* out) {
  out->set_job_id(job.job_id);
  if (with_spec && !job.spec.empty()) out->mutable_spec()->ParseFromString(job.spec);
  StatusToProto(job.status, out->mutable_status());
  out->set_idempotency_key(job.idempotency_key);
}

void EventToProto(const EventRecord& e, v1::JobEvent* out) {
  out->set_job_id(e.job_id);
  out->set_sequence(e.sequence);
  ToProto(e.time, out->mutable_time());
  out->set_type(static_cast<v1::JobEventType>(e.type));
  out->set_state(static_cast<v1::JobState>(e.state));
  out->set_stage_index(e.stage_index);
  out->set_stage_name(e.stage_name);
  out->set_iteration(e.iteration);
  out->set_round(e.round);
  out->set_message(e.message);
  for (const auto& [name, value] : e.metrics) (*out->mutable_metrics())[name] = value;
  out->set_error_code(e.error_code);
  out->set_worker_id(e.worker_id);
}

void WorkerToProto(const Worker& w, const std::string& job_id, v1::WorkerInfo* out) {
  out->set_worker_id(w.worker_id);
  out->set_role(static_cast<v1::WorkerRole>(w.role));
  out->set_endpoint(w.endpoint);
  out->set_capacity(w.capacity);
  for (const auto& [k, v] : w.labels) (*out->mutable_labels())[k] = v;
  out->set_state(static_cast<v1::WorkerState>(w.health));
  v1::WorkerLoad* load = out->mutable_load();
  load->set_active_requests(w.load.active_requests);
  load->set_queued(w.load.queued);
  load->set_utilization(w.load.utilization);
  load->set_policy_version(w.load.policy_version);
  load->set_draining(w.load.draining);
  ToProto(w.register_time, out->mutable_register_time());
  ToProto(w.last_heartbeat, out->mutable_last_heartbeat_time());
  out->set_job_id(job_id);
}

std::string SpecHash(const std::string& serialized) {
  return absl::StrFormat("%016x", XXH3_64bits(serialized.data(), serialized.size()));
}

// Deterministic bytes of a spec (map order fixed), for storage and the idempotency hash.
std::string Serialize(const v1::JobSpec& spec) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  spec.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace

CoordinatorService::CoordinatorService(CoordinatorCore* core, SpecPolicy policy,
                                       std::map<std::string, UserInfo> users)
    : core_(core), policy_(std::move(policy)), users_(std::move(users)) {}

absl::StatusOr<JobPlan> CoordinatorService::DecodeStoredSpec(const std::string& spec,
                                                             const SpecPolicy& policy) {
  v1::JobSpec parsed;
  if (!parsed.ParseFromString(spec)) return absl::DataLossError("the stored spec is not a JobSpec");
  return PlanFromSpec(parsed, policy);
}

absl::StatusOr<UserInfo> CoordinatorService::Authenticate(
    const grpc::ServerContext& context) const {
  if (users_.empty()) return UserInfo{.name = "local", .admin = true};
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("no \"authorization: Bearer <token>\" metadata");
  }
  const std::string value(it->second.data(), it->second.size());
  constexpr absl::string_view kBearer = "Bearer ";
  if (!absl::StartsWith(value, kBearer)) {
    return absl::UnauthenticatedError("authorization metadata must be \"Bearer <token>\"");
  }
  auto user = users_.find(value.substr(kBearer.size()));
  if (user == users_.end()) return absl::UnauthenticatedError("unknown token");
  return user->second;
}

absl::StatusOr<JobRecord> CoordinatorService::VisibleJob(const UserInfo& user,
                                                         const std::string& job_id,
                                                         bool include_spec) const {
  if (job_id.empty() || job_id.size() > kMaxJobIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("job_id: must be 1..", kMaxJobIdBytes, " bytes"));
  }
  absl::StatusOr<JobRecord> job = core_->store().GetJob(job_id, include_spec);
  if (!job.ok()) return job.status();
  if (!user.admin && job->owner != user.name) {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  return job;
}

grpc::Status CoordinatorService::SubmitJob(grpc::ServerContext* context,
                                           const v1::SubmitJobRequest* request,
                                           v1::SubmitJobResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  if (absl::Status values = rpc::CheckMessageValues(*request, "request"); !values.ok()) {
    return Grpc(values);
  }
  v1::JobSpec spec;
  if (!request->spec_text().empty()) {
    if (request->has_spec()) {
      return Grpc(absl::InvalidArgumentError("set spec or spec_text, not both"));
    }
    if (request->spec_text().size() > kMaxSpecTextBytes) {
      return Grpc(absl::InvalidArgumentError(absl::StrCat(
          "spec_text: ", request->spec_text().size(), " bytes; at most ", kMaxSpecTextBytes)));
    }
    absl::StatusOr<v1::JobSpec> parsed = ParseJobSpecText(request->spec_text(), "spec_text");
    if (!parsed.ok()) return Grpc(parsed.status());
    spec = *std::move(parsed);
  } else {
    spec = request->spec();
  }
  if (request->idempotency_key().size() > kMaxIdempotencyKeyBytes) {
    return Grpc(absl::InvalidArgumentError(
        absl::StrCat("idempotency_key: at most ", kMaxIdempotencyKeyBytes, " bytes")));
  }
  absl::StatusOr<JobPlan> plan = PlanFromSpec(spec, policy_);
  if (!plan.ok()) return Grpc(plan.status());
  for (size_t i = 0; i < plan->stages.size(); ++i) {
    if (plan->stages[i].kind == StageKind::kOnlinePreference &&
        plan->stages[i].scoring.pair_selection == PairSelection::kJudge) {
      return Grpc(absl::UnimplementedError(absl::StrCat(
          "stages[", i,
          "].scoring.pair_selection: PAIR_SELECTION_JUDGE (labels from an LM judge's Compare) "
          "does not run on this coordinator yet; PAIR_SELECTION_BEST_WORST does")));
    }
  }
  if (request->validate_only()) {
    response->mutable_status()->set_state(v1::JOB_STATE_UNSPECIFIED);
    return grpc::Status::OK;
  }
  const std::string hash = SpecHash(Serialize(spec));  // before the seed is resolved
  if (spec.seed() == 0) {
    std::random_device random;
    spec.set_seed((static_cast<uint64_t>(random()) << 32) | random() | 1);
    plan->seed = spec.seed();
  }
  JobRecord job;
  job.owner = user->name;
  job.name = plan->name;
  job.kind = static_cast<int>(plan->kind);
  job.priority = plan->priority;
  job.labels = plan->labels;
  job.idempotency_key = request->idempotency_key();
  job.spec_hash = hash;
  job.spec = Serialize(spec);
  job.max_retries = plan->max_retries;
  absl::StatusOr<Submitted> submitted = core_->Submit(std::move(job), *plan);
  if (!submitted.ok()) return Grpc(submitted.status());
  response->set_job_id(submitted->job.job_id);
  response->set_created(submitted->created);
  StatusToProto(submitted->job.status, response->mutable_status());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::GetJob(grpc::ServerContext* context,
                                        const v1::GetJobRequest* request,
                                        v1::GetJobResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  absl::StatusOr<JobRecord> job = VisibleJob(*user, request->job_id(), true);
  if (!job.ok()) return Grpc(job.status());
  JobToProto(*job, true, response->mutable_job());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ListJobs(grpc::ServerContext* context,
                                          const v1::ListJobsRequest* request,
                                          v1::ListJobsResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  if (absl::Status values = rpc::CheckMessageValues(*request, "request"); !values.ok()) {
    return Grpc(values);
  }
  JobFilter filter;
  if (!user->admin) filter.owner = user->name;
  for (int state : request->states()) filter.states.push_back(static_cast<JobState>(state));
  filter.kind = request->kind();
  for (const auto& [k, v] : request->labels()) filter.labels[k] = v;
  absl::StatusOr<JobPage> page = core_->store().ListJobs(
      filter, request->page_size(), request->page_token(), request->include_spec());
  if (!page.ok()) return Grpc(page.status());
  for (const JobRecord& job : page->jobs) {
    JobToProto(job, request->include_spec(), response->add_jobs());
  }
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::CancelJob(grpc::ServerContext* context,
                                           const v1::CancelJobRequest* request,
                                           v1::CancelJobResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  if (request->reason().size() > kMaxCancelReasonBytes) {
    return Grpc(absl::InvalidArgumentError(
        absl::StrCat("reason: at most ", kMaxCancelReasonBytes, " bytes")));
  }
  absl::StatusOr<JobRecord> job = VisibleJob(*user, request->job_id(), false);
  if (!job.ok()) return Grpc(job.status());
  absl::StatusOr<JobStatusRecord> status = core_->Cancel(request->job_id(), request->reason());
  if (!status.ok()) return Grpc(status.status());
  StatusToProto(*status, response->mutable_status());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::WatchJob(grpc::ServerContext* context,
                                          const v1::WatchJobRequest* request,
                                          grpc::ServerWriter<v1::JobEvent>* writer) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  absl::StatusOr<JobRecord> job = VisibleJob(*user, request->job_id(), false);
  if (!job.ok()) return Grpc(job.status());
  uint64_t after = request->after_sequence();
  while (!context->IsCancelled()) {
    absl::StatusOr<std::vector<EventRecord>> events =
        core_->store().EventsAfter(request->job_id(), after, kMaxWatchBatch);
    if (!events.ok()) return Grpc(events.status());
    for (const EventRecord& event : *events) {
      v1::JobEvent out;
      EventToProto(event, &out);
      if (!writer->Write(out)) return grpc::Status(grpc::StatusCode::CANCELLED, "client gone");
      after = event.sequence;
      if (IsTerminal(event.state)) {
        // The terminal event is the job's last: the stream ends after it.
        return grpc::Status::OK;
      }
    }
    if (!events->empty()) continue;
    // Caught up: a terminal job whose last event was replayed before after_sequence ends here.
    absl::StatusOr<JobRecord> now = core_->store().GetJob(request->job_id(), false);
    if (!now.ok()) return Grpc(now.status());
    if (IsTerminal(now->status.state) && now->status.last_event_sequence <= after) {
      return grpc::Status::OK;
    }
    if (!core_->WaitForEvents(request->job_id(), after, absl::Seconds(1))) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the coordinator is shutting down; resume from the last sequence");
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
}

grpc::Status CoordinatorService::RegisterWorker(grpc::ServerContext* context,
                                                const v1::RegisterWorkerRequest* request,
                                                v1::RegisterWorkerResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  if (absl::Status values = rpc::CheckMessageValues(*request, "request"); !values.ok()) {
    return Grpc(values);
  }
  Registration r;
  r.role = static_cast<WorkerRole>(request->role());
  r.endpoint = request->endpoint();
  r.capacity = request->capacity();
  for (const auto& [k, v] : request->labels()) r.labels[k] = v;
  r.instance_id = request->instance_id();
  absl::StatusOr<std::string> id = core_->pool().Register(r);
  if (!id.ok()) return Grpc(id.status());
  response->set_worker_id(*id);
  ToProto(core_->pool().heartbeat_interval(), response->mutable_heartbeat_interval());
  ToProto(core_->pool().lease_duration(), response->mutable_lease_duration());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Heartbeat(grpc::ServerContext* context,
                                           const v1::HeartbeatRequest* request,
                                           v1::HeartbeatResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  if (absl::Status values = rpc::CheckMessageValues(*request, "request"); !values.ok()) {
    return Grpc(values);
  }
  const v1::WorkerLoad& l = request->load();
  absl::Status status = core_->pool().Heartbeat(
      request->worker_id(), WorkerLoadReport{.active_requests = l.active_requests(),
                                             .queued = l.queued(),
                                             .utilization = l.utilization(),
                                             .policy_version = l.policy_version(),
                                             .draining = l.draining()});
  if (!status.ok()) return Grpc(status);
  ToProto(core_->pool().heartbeat_interval(), response->mutable_heartbeat_interval());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::DeregisterWorker(grpc::ServerContext* context,
                                                  const v1::DeregisterWorkerRequest* request,
                                                  v1::DeregisterWorkerResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  return Grpc(core_->pool().Deregister(request->worker_id()));
}

grpc::Status CoordinatorService::ListWorkers(grpc::ServerContext* context,
                                             const v1::ListWorkersRequest* request,
                                             v1::ListWorkersResponse* response) {
  absl::StatusOr<UserInfo> user = Authenticate(*context);
  if (!user.ok()) return Grpc(user.status());
  if (absl::Status values = rpc::CheckMessageValues(*request, "request"); !values.ok()) {
    return Grpc(values);
  }
  std::map<std::string, std::string> holder;
  absl::StatusOr<std::vector<LeaseRecord>> leases = core_->store().Leases();
  if (leases.ok()) {
    for (const LeaseRecord& lease : *leases) holder[lease.worker_id] = lease.job_id;
  }
  for (const Worker& worker : core_->pool().List(request->include_lost())) {
    if (!request->roles().empty() &&
        std::find(request->roles().begin(), request->roles().end(),
                  static_cast<int>(worker.role)) == request->roles().end()) {
      continue;
    }
    WorkerToProto(worker, holder[worker.worker_id], response->add_workers());
  }
  return grpc::Status::OK;
}

}  // namespace plumb::coordinator
