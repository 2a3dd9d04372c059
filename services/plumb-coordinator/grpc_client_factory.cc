#include "services/plumb-coordinator/grpc_client_factory.h"

#include "common/clients/grpc_clients.h"
#include "common/rpc/grpc_probe.h"

namespace plumb::coordinator {
namespace {

template <typename Client, typename Make>
absl::StatusOr<Client*> GetOrMake(std::map<std::string, std::unique_ptr<Client>>& clients,
                                  const std::string& endpoint, Make make) {
  auto it = clients.find(endpoint);
  if (it != clients.end()) return it->second.get();
  absl::StatusOr<std::unique_ptr<Client>> made = make();
  if (!made.ok()) return made.status();
  Client* raw = made->get();
  clients[endpoint] = *std::move(made);
  return raw;
}

const char* ServiceOf(WorkerRole role) {
  switch (role) {
    case WorkerRole::kGenerator:
      return "plumb.v1.Generator";
    case WorkerRole::kScorer:
      return "plumb.v1.RewardScorer";
    case WorkerRole::kReference:
      return "plumb.v1.Reference";
    case WorkerRole::kLearner:
      return "plumb.v1.Learner";
  }
  return "";
}

}  // namespace

rpc::ChannelOptions GrpcClientFactory::OptionsFor(const std::string& endpoint) const {
  rpc::ChannelOptions options = options_;
  options.target = endpoint;
  return options;
}

absl::StatusOr<clients::GeneratorClient*> GrpcClientFactory::Generator(const std::string& e) {
  absl::MutexLock lock(&mu_);
  return GetOrMake(generators_, e, [&] { return clients::NewGrpcGeneratorClient(OptionsFor(e)); });
}

absl::StatusOr<clients::ScorerClient*> GrpcClientFactory::Scorer(const std::string& e) {
  absl::MutexLock lock(&mu_);
  return GetOrMake(scorers_, e, [&] { return clients::NewGrpcScorerClient(OptionsFor(e)); });
}

absl::StatusOr<clients::ReferenceClient*> GrpcClientFactory::Reference(const std::string& e) {
  absl::MutexLock lock(&mu_);
  return GetOrMake(references_, e, [&] { return clients::NewGrpcReferenceClient(OptionsFor(e)); });
}

absl::StatusOr<clients::LearnerClient*> GrpcClientFactory::Learner(const std::string& e) {
  absl::MutexLock lock(&mu_);
  return GetOrMake(learners_, e, [&] { return clients::NewGrpcLearnerClient(OptionsFor(e)); });
}

bool GrpcClientFactory::Probe(WorkerRole role, const std::string& endpoint) {
  std::shared_ptr<grpc::Channel> channel;
  {
    absl::MutexLock lock(&mu_);
    std::shared_ptr<grpc::Channel>& cached = probe_channels_[endpoint];
    if (cached == nullptr) {
      absl::StatusOr<std::shared_ptr<grpc::Channel>> made =
          rpc::CreateChannel(OptionsFor(endpoint));
      if (!made.ok()) return false;
      cached = *std::move(made);
    }
    channel = cached;
  }
  absl::StatusOr<rpc::ServingStatus> status =
      rpc::CheckHealth(channel, ServiceOf(role), absl::Seconds(2), options_.bearer_token);
  return status.ok() && *status == rpc::ServingStatus::kServing;
}

}  // namespace plumb::coordinator
