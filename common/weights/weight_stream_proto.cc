#include "common/weights/weight_stream_proto.h"

#include "common/status/status_macros.h"
#include "common/tensor/tensor_codec.h"

namespace plumb::weights {

WeightManifest FromProto(const v1::WeightManifest& manifest) {
  WeightManifest out;
  out.version = manifest.version();
  out.model = manifest.model();
  out.architecture = manifest.architecture();
  out.tensors.reserve(manifest.tensors_size());
  for (const v1::TensorSpec& spec : manifest.tensors()) {
    out.tensors.push_back(TensorSpec{.name = spec.name(),
                                     .dtype = tensor::FromWire(spec.dtype()),
                                     .shape = {spec.shape().begin(), spec.shape().end()},
                                     .total_bytes = spec.total_bytes()});
  }
  out.total_bytes = manifest.total_bytes();
  out.source = manifest.source();
  out.partial = manifest.partial();
  out.allow_downgrade = manifest.allow_downgrade();
  return out;
}

WeightMessage FromProto(const v1::WeightChunk& chunk) {
  WeightMessage out;
  out.version = chunk.version();
  switch (chunk.payload_case()) {
    case v1::WeightChunk::kManifest:
      out.payload = FromProto(chunk.manifest());
      break;
    case v1::WeightChunk::kTensor:
      out.payload = tensor::ViewOf(chunk.tensor());
      break;
    case v1::WeightChunk::kCommit:
      out.payload = WeightCommit{.tensor_count = chunk.commit().tensor_count(),
                                 .total_bytes = chunk.commit().total_bytes()};
      break;
    case v1::WeightChunk::PAYLOAD_NOT_SET:
      break;
  }
  return out;
}

v1::LoadWeightsResponse ToProto(const LoadResult& result) {
  v1::LoadWeightsResponse response;
  response.set_version(result.version);
  response.set_previous_version(result.previous_version);
  response.set_bytes(result.bytes);
  response.set_tensors(result.tensors);
  response.set_seconds(result.seconds);
  return response;
}

absl::StatusOr<v1::LoadWeightsResponse> ReceiveWeights(
    const std::function<bool(v1::WeightChunk*)>& read, WeightLoad& load) {
  v1::WeightChunk chunk;
  while (read(&chunk)) RETURN_IF_ERROR(load.Add(FromProto(chunk)));
  ASSIGN_OR_RETURN(const LoadResult result, load.Finish());
  return ToProto(result);
}

absl::StatusOr<v1::LoadWeightsResponse> ReceiveWeights(
    const std::function<bool(v1::WeightChunk*)>& read, VersionedModel& model,
    const std::string& model_name) {
  WeightLoad load(model, model_name);
  return ReceiveWeights(read, load);
}

}  // namespace plumb::weights
