// A Coordinator server for plumbctl's tests: canned jobs, events and workers in memory, served
// over a real gRPC server on 127.0.0.1 (port chosen by the kernel). It records what clients sent
// (the last requests, the authorization metadata) and can break a WatchJob stream mid-way.
//
// Thread safety: the setters and accessors lock; the gRPC handlers run on server threads.
#ifndef PLUMB_SERVICES_PLUMBCTL_FAKE_COORDINATOR_H_
#define PLUMB_SERVICES_PLUMBCTL_FAKE_COORDINATOR_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "plumb/v1/coordinator.grpc.pb.h"

namespace plumb::plumbctl {

class FakeCoordinator final : public v1::Coordinator::Service {
 public:
  // Starts serving, in plaintext unless `credentials` are given; the address is
  // "127.0.0.1:<port>".
  explicit FakeCoordinator(std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  ~FakeCoordinator() override;

  const std::string& address() const { return address_; }

  // Every call must carry "authorization: Bearer <token>" (UNAUTHENTICATED otherwise).
  void RequireToken(std::string token);
  // Adds a job (its last_event_sequence is set from its events).
  void AddJob(v1::Job job, std::vector<v1::JobEvent> events = {});
  void AddWorker(v1::WorkerInfo worker);
  // The first `calls` WatchJob calls each send at most `events` events and then fail with
  // UNAVAILABLE, as a coordinator that restarts would.
  void BreakWatchAfter(int events, int calls);

  v1::SubmitJobRequest last_submit() const;
  v1::CancelJobRequest last_cancel() const;
  v1::ListWorkersRequest last_list_workers() const;
  std::vector<v1::ListJobsRequest> list_requests() const;
  std::vector<uint64_t> watch_after_sequences() const;
  std::vector<std::string> authorizations() const;  // one per call: "" when absent

  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::SubmitJobResponse* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::GetJobResponse* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::CancelJobResponse* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;
  grpc::Status ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;

 private:
  // Records the call's authorization header and checks it against the required token.
  grpc::Status Admit(grpc::ServerContext* context);

  mutable absl::Mutex mu_;
  std::string token_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Job> jobs_ ABSL_GUARDED_BY(mu_);  // in insertion order
  std::map<std::string, std::vector<v1::JobEvent>> events_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);
  int break_after_events_ ABSL_GUARDED_BY(mu_) = 0;
  int break_calls_left_ ABSL_GUARDED_BY(mu_) = 0;
  v1::SubmitJobRequest last_submit_ ABSL_GUARDED_BY(mu_);
  v1::CancelJobRequest last_cancel_ ABSL_GUARDED_BY(mu_);
  v1::ListWorkersRequest last_list_workers_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ListJobsRequest> list_requests_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> watch_after_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_FAKE_COORDINATOR_H_
