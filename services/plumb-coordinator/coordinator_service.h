// plumb.v1.Coordinator over gRPC: the thin edge between the protos and CoordinatorCore. It
// authenticates the caller (a bearer token mapped to a user, coordinator_options.h), reads and
// validates job specs (job_spec_reader.h), converts records to protos and back, and streams
// events. A user sees and cancels only their own jobs unless they are an admin; another user's
// job is NOT_FOUND, as an unknown one.
//
// Thread safety: gRPC calls handlers on its own threads; the service holds no mutable state of
// its own beyond the core's.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_SERVICE_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_SERVICE_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "plumb/v1/coordinator.grpc.pb.h"
#include "services/plumb-coordinator/coordinator_core.h"
#include "services/plumb-coordinator/coordinator_options.h"
#include "services/plumb-coordinator/job_spec_reader.h"

namespace plumb::coordinator {

class CoordinatorService final : public v1::Coordinator::Service {
 public:
  // `users` empty: no authentication, every caller is the admin "local".
  CoordinatorService(CoordinatorCore* core, SpecPolicy policy,
                     std::map<std::string, UserInfo> users);

  // The plan of a stored spec (the scheduler's PlanDecoder).
  static absl::StatusOr<JobPlan> DecodeStoredSpec(const std::string& spec,
                                                  const SpecPolicy& policy);

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
  grpc::Status RegisterWorker(grpc::ServerContext* context,
                              const v1::RegisterWorkerRequest* request,
                              v1::RegisterWorkerResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status DeregisterWorker(grpc::ServerContext* context,
                                const v1::DeregisterWorkerRequest* request,
                                v1::DeregisterWorkerResponse* response) override;
  grpc::Status ListWorkers(grpc::ServerContext* context, const v1::ListWorkersRequest* request,
                           v1::ListWorkersResponse* response) override;

 private:
  absl::StatusOr<UserInfo> Authenticate(const grpc::ServerContext& context) const;
  // The job if `user` may see it; NOT_FOUND otherwise.
  absl::StatusOr<JobRecord> VisibleJob(const UserInfo& user, const std::string& job_id,
                                       bool include_spec) const;

  CoordinatorCore* const core_;
  const SpecPolicy policy_;
  const std::map<std::string, UserInfo> users_;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_COORDINATOR_SERVICE_H_
