// The protobuf edge of weight streams (proto/plumb/v1/weights.proto): v1::WeightChunk messages
// become the domain WeightMessages that WeightLoad and WeightStreamReceiver read, and a LoadResult
// becomes a v1::LoadWeightsResponse. The cores (VersionedModel, the receiver) never see protobuf;
// the services' LoadWeights handlers (model_service_support.h) read their streams through here.
//
// Thread safety: plain functions; a stream is read by one thread.
#ifndef PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_PROTO_H_
#define PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_PROTO_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/weights/versioned_model.h"
#include "common/weights/weight_load.h"
#include "common/weights/weight_stream_receiver.h"
#include "plumb/v1/weights.pb.h"

namespace plumb::weights {

WeightManifest FromProto(const v1::WeightManifest& manifest);
// A tensor chunk's fields are borrowed from `chunk`: the result is valid while `chunk` is.
WeightMessage FromProto(const v1::WeightChunk& chunk);
v1::LoadWeightsResponse ToProto(const LoadResult& result);

// One LoadWeights call: reads the stream through `read` (false = the client half-closed) into
// `load`, which validates and applies it; then reports what was loaded.
absl::StatusOr<v1::LoadWeightsResponse> ReceiveWeights(
    const std::function<bool(v1::WeightChunk*)>& read, WeightLoad& load);
// The same into `model`, whose manifests must name `model_name` ("" for a service's only model).
absl::StatusOr<v1::LoadWeightsResponse> ReceiveWeights(
    const std::function<bool(v1::WeightChunk*)>& read, VersionedModel& model,
    const std::string& model_name = "");

}  // namespace plumb::weights

#endif  // PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_PROTO_H_
