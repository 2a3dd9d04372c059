// What every model-holding gRPC service (generator, reference, scorer, learner) shares at its
// edge: the LoadWeights handler with its metrics, ModelInfo of a versioned model, and protobuf
// timestamps.
//
// Thread safety: LoadWeightsEndpoint::Serve may run on several gRPC threads at once (the model
// refuses a second concurrent load with ABORTED); the rest are plain functions.
#ifndef PLUMB_COMMON_WEIGHTS_MODEL_SERVICE_SUPPORT_H_
#define PLUMB_COMMON_WEIGHTS_MODEL_SERVICE_SUPPORT_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/sync_stream.h>

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "common/tokenizer/tokenizer.h"
#include "common/weights/versioned_model.h"
#include "common/weights/weight_load.h"
#include "google/protobuf/timestamp.pb.h"
#include "plumb/v1/common.pb.h"
#include "plumb/v1/weights.pb.h"

namespace plumb::weights {

google::protobuf::Timestamp ToProtoTime(absl::Time time);

// One service's LoadWeights: receives, applies and counts ("<prefix>_weight_loads_total{code}",
// "<prefix>_weight_load_bytes_total", "<prefix>_weight_load_seconds").
class LoadWeightsEndpoint {
 public:
  // A stream that sends nothing for `idle_timeout` is cancelled: DEADLINE_EXCEEDED, nothing
  // loaded, the model free for the next load (0 = wait forever).
  explicit LoadWeightsEndpoint(absl::Duration idle_timeout = absl::Seconds(30))
      : idle_timeout_(idle_timeout) {}
  // Registers <prefix>_weight_loads_total, _weight_load_bytes_total and _weight_load_seconds;
  // the error (a name taken with another definition) is the service's start-up error. Must
  // succeed before the first Serve.
  absl::Status RegisterMetrics(metrics::Registry* registry, const std::string& prefix);
  // Into a service's only model (manifests name "").
  grpc::Status Serve(grpc::ServerContext* context, grpc::ServerReader<v1::WeightChunk>* reader,
                     VersionedModel& model, v1::LoadWeightsResponse* response);
  // Into the model `resolve` gives for the manifest's `model` name (e.g. a scorer objective).
  grpc::Status Serve(grpc::ServerContext* context, grpc::ServerReader<v1::WeightChunk>* reader,
                     const ModelResolver& resolve, v1::LoadWeightsResponse* response);

 private:
  grpc::Status Serve(grpc::ServerContext* context, grpc::ServerReader<v1::WeightChunk>* reader,
                     WeightLoad& load, v1::LoadWeightsResponse* response);

  metrics::CounterFamily* loads_;
  metrics::Counter* bytes_;
  metrics::Histogram* seconds_;
  absl::Duration idle_timeout_;
};

// Runs `load` with a reader of `reader` that a StallWatchdog watches: after `idle_timeout`
// without a message the call is cancelled (the blocked Read returns false) and the result is
// DEADLINE_EXCEEDED whatever `load` returned. Shared by every LoadWeights handler.
absl::StatusOr<v1::LoadWeightsResponse> LoadWithIdleTimeout(
    grpc::ServerContext* context, grpc::ServerReader<v1::WeightChunk>* reader,
    absl::Duration idle_timeout,
    const std::function<absl::StatusOr<v1::LoadWeightsResponse>(
        const std::function<bool(v1::WeightChunk*)>& read)>& load);

// What a ModelInfo reports, whoever holds the model (a VersionedModel, the learner's session).
// parameter_count is config->ParameterCount(): the policy network's tensors (embeddings,
// layers, final norm, untied LM head), without value/reward heads or LoRA adapters, as
// `plumb-model info` and the scorer count them, so every service reports one number per model.
struct ModelInfoSource {
  const model::ModelConfig* config = nullptr;  // required
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::string device;
  uint64_t version = 0;
  std::string weights_source;
  absl::Time loaded;
  const tokenizer::Tokenizer* tokenizer = nullptr;  // may be null
};
void FillModelInfo(const ModelInfoSource& source, v1::ModelInfo* info);

// ModelInfo of the model's current snapshot; `tokenizer` may be null.
void FillModelInfo(VersionedModel& model, const std::string& device,
                   const tokenizer::Tokenizer* tokenizer, v1::ModelInfo* info);

}  // namespace plumb::weights

#endif  // PLUMB_COMMON_WEIGHTS_MODEL_SERVICE_SUPPORT_H_
