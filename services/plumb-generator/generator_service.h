// The gRPC adapter of plumb-generator: plumb.v1.Generator messages to and from the core's types;
// absl::Status to grpc::Status in one place (common/rpc/grpc_status.h). No model logic.
//
// Thread safety: gRPC's sync-server threads call the handlers concurrently; Generate streams its
// rollouts from its own handler thread as the core hands them over.
#ifndef PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_SERVICE_H_
#define PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_SERVICE_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "common/weights/model_service_support.h"
#include "plumb/v1/generator.grpc.pb.h"
#include "services/plumb-generator/generator_core.h"

namespace plumb::generator {

class GeneratorService final : public v1::Generator::Service {
 public:
  // `weight_stream_idle_timeout`: see LoadWeightsEndpoint (server.stream_idle_timeout).
  // A metric `registry` refuses is the error, at start-up.
  static absl::StatusOr<std::unique_ptr<GeneratorService>> Create(
      GeneratorCore* core, metrics::Registry* registry, std::string device,
      absl::Duration weight_stream_idle_timeout = absl::Seconds(30));

  grpc::Status Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                        grpc::ServerWriter<v1::Rollout>* writer) override;
  grpc::Status LoadWeights(grpc::ServerContext* context,
                           grpc::ServerReader<v1::WeightChunk>* reader,
                           v1::LoadWeightsResponse* response) override;
  grpc::Status GetInfo(grpc::ServerContext* context, const v1::GeneratorGetInfoRequest* request,
                       v1::GeneratorGetInfoResponse* response) override;

 private:
  GeneratorService(GeneratorCore* core, std::string device,
                   absl::Duration weight_stream_idle_timeout);
  GeneratorCore* core_;
  std::string device_;
  weights::LoadWeightsEndpoint load_weights_;
};

}  // namespace plumb::generator

#endif  // PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_SERVICE_H_
