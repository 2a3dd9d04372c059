// How the coordinator's scheduler reaches a worker: one client per endpoint, made on first use
// and kept (the gRPC factory in grpc_client_factory.h; tests use fakes). The scheduler and the
// job runner see only the client interfaces of common/clients.
//
// Thread safety: implementations are thread-safe; the clients they return live as long as the
// factory.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_CLIENT_FACTORY_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_CLIENT_FACTORY_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/clients/generator_client.h"
#include "common/clients/learner_client.h"
#include "common/clients/reference_client.h"
#include "common/clients/scorer_client.h"

namespace plumb::coordinator {

class ClientFactory {
 public:
  virtual ~ClientFactory() = default;
  virtual absl::StatusOr<clients::GeneratorClient*> Generator(const std::string& endpoint) = 0;
  virtual absl::StatusOr<clients::ScorerClient*> Scorer(const std::string& endpoint) = 0;
  virtual absl::StatusOr<clients::ReferenceClient*> Reference(const std::string& endpoint) = 0;
  virtual absl::StatusOr<clients::LearnerClient*> Learner(const std::string& endpoint) = 0;
};

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_CLIENT_FACTORY_H_
