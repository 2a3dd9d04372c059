// The gRPC adapter of plumb-reference: converts plumb.v1.Reference messages to the core's types
// and back, and turns absl::Status into grpc::Status (common/rpc/grpc_status.h). No model logic.
//
// Thread safety: gRPC's sync-server threads call the handlers concurrently; LogProbs blocks its
// thread until the runner has answered; LoadWeights stages on its own thread.
#ifndef PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_SERVICE_H_
#define PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_SERVICE_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "common/weights/model_service_support.h"
#include "plumb/v1/reference.grpc.pb.h"
#include "services/plumb-reference/reference_core.h"

namespace plumb::reference {

class ReferenceService final : public v1::Reference::Service {
 public:
  // `weight_stream_idle_timeout`: see LoadWeightsEndpoint (server.stream_idle_timeout).
  // A metric `registry` refuses is the error, at start-up.
  static absl::StatusOr<std::unique_ptr<ReferenceService>> Create(
      ReferenceCore* core, metrics::Registry* registry, std::string device,
      absl::Duration weight_stream_idle_timeout = absl::Seconds(30));

  grpc::Status LogProbs(grpc::ServerContext* context, const v1::LogProbsRequest* request,
                        v1::LogProbsResponse* response) override;
  grpc::Status LoadWeights(grpc::ServerContext* context,
                           grpc::ServerReader<v1::WeightChunk>* reader,
                           v1::LoadWeightsResponse* response) override;
  grpc::Status GetInfo(grpc::ServerContext* context, const v1::ReferenceGetInfoRequest* request,
                       v1::ReferenceGetInfoResponse* response) override;

 private:
  ReferenceService(ReferenceCore* core, std::string device,
                   absl::Duration weight_stream_idle_timeout);
  ReferenceCore* core_;
  std::string device_;
  weights::LoadWeightsEndpoint load_weights_;
};

}  // namespace plumb::reference

#endif  // PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_SERVICE_H_
