// ClientFactory over gRPC: one client per worker endpoint, made on first use with the
// coordinator's `workers.client` channel options (TLS, token, deadline) and that endpoint as the
// target; and the grpc.health.v1 probe of a worker.
//
// Thread safety: thread-safe.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_GRPC_CLIENT_FACTORY_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_GRPC_CLIENT_FACTORY_H_

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc/channel_factory.h"
#include "grpcpp/channel.h"
#include "services/plumb-coordinator/client_factory.h"
#include "services/plumb-coordinator/worker_pool.h"

namespace plumb::coordinator {

class GrpcClientFactory final : public ClientFactory {
 public:
  explicit GrpcClientFactory(rpc::ChannelOptions options) : options_(std::move(options)) {}
  absl::StatusOr<clients::GeneratorClient*> Generator(const std::string& endpoint) override;
  absl::StatusOr<clients::ScorerClient*> Scorer(const std::string& endpoint) override;
  absl::StatusOr<clients::ReferenceClient*> Reference(const std::string& endpoint) override;
  absl::StatusOr<clients::LearnerClient*> Learner(const std::string& endpoint) override;

  // Whether the worker answers grpc.health.v1 Check for its role's service as SERVING.
  bool Probe(WorkerRole role, const std::string& endpoint);

 private:
  rpc::ChannelOptions OptionsFor(const std::string& endpoint) const;

  const rpc::ChannelOptions options_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<clients::GeneratorClient>> generators_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<clients::ScorerClient>> scorers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<clients::ReferenceClient>> references_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<clients::LearnerClient>> learners_ ABSL_GUARDED_BY(mu_);
  // Health-check channels, one per endpoint, made on the first probe (probes run every few
  // seconds: a channel each time would reconnect each time).
  std::map<std::string, std::shared_ptr<grpc::Channel>> probe_channels_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_GRPC_CLIENT_FACTORY_H_
