#include "services/plumbctl/fake_coordinator.h"

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace plumb::plumbctl {

FakeCoordinator::FakeCoordinator(std::shared_ptr<grpc::ServerCredentials> credentials) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0",
                           credentials ? credentials : grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
  address_ = absl::StrCat("127.0.0.1:", port);
}

// An immediate deadline cancels streams still open (a watch on a running job).
FakeCoordinator::~FakeCoordinator() { server_->Shutdown(std::chrono::system_clock::now()); }

void FakeCoordinator::RequireToken(std::string token) {
  absl::MutexLock lock(&mu_);
  token_ = std::move(token);
}

void FakeCoordinator::AddJob(v1::Job job, std::vector<v1::JobEvent> events) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < events.size(); ++i) {
    events[i].set_job_id(job.job_id());
    events[i].set_sequence(i + 1);
  }
  job.mutable_status()->set_last_event_sequence(events.size());
  events_[job.job_id()] = std::move(events);
  jobs_.push_back(std::move(job));
}

void FakeCoordinator::AddWorker(v1::WorkerInfo worker) {
  absl::MutexLock lock(&mu_);
  workers_.push_back(std::move(worker));
}

void FakeCoordinator::BreakWatchAfter(int events, int calls) {
  absl::MutexLock lock(&mu_);
  break_after_events_ = events;
  break_calls_left_ = calls;
}

v1::SubmitJobRequest FakeCoordinator::last_submit() const {
  absl::MutexLock lock(&mu_);
  return last_submit_;
}
v1::CancelJobRequest FakeCoordinator::last_cancel() const {
  absl::MutexLock lock(&mu_);
  return last_cancel_;
}
v1::ListWorkersRequest FakeCoordinator::last_list_workers() const {
  absl::MutexLock lock(&mu_);
  return last_list_workers_;
}
std::vector<v1::ListJobsRequest> FakeCoordinator::list_requests() const {
  absl::MutexLock lock(&mu_);
  return list_requests_;
}
std::vector<uint64_t> FakeCoordinator::watch_after_sequences() const {
  absl::MutexLock lock(&mu_);
  return watch_after_;
}
std::vector<std::string> FakeCoordinator::authorizations() const {
  absl::MutexLock lock(&mu_);
  return authorizations_;
}

grpc::Status FakeCoordinator::Admit(grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  const std::string value =
      it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
  absl::MutexLock lock(&mu_);
  authorizations_.push_back(value);
  if (!token_.empty() && value != "Bearer " + token_) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
  }
  return grpc::Status::OK;
}

grpc::Status FakeCoordinator::SubmitJob(grpc::ServerContext* context,
                                        const v1::SubmitJobRequest* request,
                                        v1::SubmitJobResponse* response) {
  if (grpc::Status status = Admit(context); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  last_submit_ = *request;
  if (request->validate_only()) return grpc::Status::OK;
  response->set_job_id(absl::StrCat("job-", jobs_.size() + 1));
  response->set_created(true);
  response->mutable_status()->set_state(v1::JOB_STATE_QUEUED);
  return grpc::Status::OK;
}

grpc::Status FakeCoordinator::GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                                     v1::GetJobResponse* response) {
  if (grpc::Status status = Admit(context); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  for (const v1::Job& job : jobs_) {
    if (job.job_id() == request->job_id()) {
      *response->mutable_job() = job;
      return grpc::Status::OK;
    }
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job " + request->job_id());
}

grpc::Status FakeCoordinator::ListJobs(grpc::ServerContext* context,
                                       const v1::ListJobsRequest* request,
                                       v1::ListJobsResponse* response) {
  if (grpc::Status status = Admit(context); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  list_requests_.push_back(*request);
  size_t start = 0;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &start)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad page token");
  }
  const size_t size = request->page_size() > 0 ? request->page_size() : 50;
  for (size_t i = start; i < jobs_.size() && i < start + size; ++i) {
    *response->add_jobs() = jobs_[i];
  }
  if (start + size < jobs_.size()) response->set_next_page_token(absl::StrCat(start + size));
  return grpc::Status::OK;
}

grpc::Status FakeCoordinator::CancelJob(grpc::ServerContext* context,
                                        const v1::CancelJobRequest* request,
                                        v1::CancelJobResponse* response) {
  if (grpc::Status status = Admit(context); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  last_cancel_ = *request;
  response->mutable_status()->set_state(v1::JOB_STATE_RUNNING);
  response->mutable_status()->set_cancel_requested(true);
  return grpc::Status::OK;
}

grpc::Status FakeCoordinator::WatchJob(grpc::ServerContext* context,
                                       const v1::WatchJobRequest* request,
                                       grpc::ServerWriter<v1::JobEvent>* writer) {
  if (grpc::Status status = Admit(context); !status.ok()) return status;
  std::vector<v1::JobEvent> events;
  int limit = -1;
  {
    absl::MutexLock lock(&mu_);
    watch_after_.push_back(request->after_sequence());
    auto it = events_.find(request->job_id());
    if (it == events_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no job " + request->job_id());
    }
    events = it->second;
    if (break_calls_left_ > 0) {
      --break_calls_left_;
      limit = break_after_events_;
    }
  }
  int sent = 0;
  for (const v1::JobEvent& event : events) {
    if (event.sequence() <= request->after_sequence()) continue;
    if (limit >= 0 && sent == limit) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator restarting");
    }
    if (!writer->Write(event)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
    ++sent;
  }
  // A job whose events do not reach a terminal state stays open, as a running job's stream does.
  const bool terminal = !events.empty() && (events.back().state() == v1::JOB_STATE_SUCCEEDED ||
                                            events.back().state() == v1::JOB_STATE_FAILED ||
                                            events.back().state() == v1::JOB_STATE_CANCELLED);
  while (!terminal && !context->IsCancelled()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return terminal ? grpc::Status::OK : grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
}

grpc::Status FakeCoordinator::ListWorkers(grpc::ServerContext* context,
                                          const v1::ListWorkersRequest* request,
                                          v1::ListWorkersResponse* response) {
  if (grpc::Status status = Admit(context); !status.ok()) return status;
  absl::MutexLock lock(&mu_);
  last_list_workers_ = *request;
  for (const v1::WorkerInfo& worker : workers_) *response->add_workers() = worker;
  return grpc::Status::OK;
}

}  // namespace plumb::plumbctl
