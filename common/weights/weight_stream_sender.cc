#include "common/weights/weight_stream_sender.h"

#include <torch/torch.h>

#include <grpcpp/impl/codegen/proto_utils.h>
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status/status_macros.h"
#include "common/tensor/tensor_codec.h"
#include "common/tensor/tensor_wire.h"

namespace plumb::weights {

absl::StatusOr<v1::WeightManifest> MakeManifest(const std::map<std::string, at::Tensor>& tensors,
                                                const SendOptions& options) {
  v1::WeightManifest manifest;
  manifest.set_version(options.version);
  manifest.set_model(options.model);
  manifest.set_architecture(options.architecture);
  manifest.set_source(options.source);
  manifest.set_partial(options.partial);
  manifest.set_allow_downgrade(options.allow_downgrade);
  const int64_t now = absl::ToUnixNanos(options.create_time.value_or(absl::Now()));
  manifest.mutable_create_time()->set_seconds(now / 1000000000);
  manifest.mutable_create_time()->set_nanos(static_cast<int32_t>(now % 1000000000));
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) {
    ASSIGN_OR_RETURN(v1::DType dtype, tensor::ToWireDType(t.scalar_type()));
    v1::TensorSpec* spec = manifest.add_tensors();
    spec->set_name(name);
    spec->set_dtype(dtype);
    for (int64_t d : t.sizes()) spec->add_shape(d);
    spec->set_total_bytes(static_cast<uint64_t>(t.numel()) * t.element_size());
    total += spec->total_bytes();
  }
  manifest.set_total_bytes(total);
  return manifest;
}

absl::StatusOr<uint64_t> SendWeightStream(const std::map<std::string, at::Tensor>& tensors,
                                          const SendOptions& options,
                                          const std::function<bool(const v1::WeightChunk&)>& sink) {
  v1::WeightChunk message;
  message.set_version(options.version);
  ASSIGN_OR_RETURN(*message.mutable_manifest(), MakeManifest(tensors, options));
  const uint64_t total = message.manifest().total_bytes();
  if (!sink(message))
    return absl::CancelledError("the receiver stopped the stream at the manifest");
  uint64_t sent = 0;
  for (const auto& [name, t] : tensors) {
    RETURN_IF_ERROR(tensor::EncodeTensor(
        name, t,
        [&](const v1::TensorChunk& chunk) {
          v1::WeightChunk out;
          out.set_version(options.version);
          *out.mutable_tensor() = chunk;
          sent += chunk.data().size();
          return sink(out);
        },
        options.chunk_bytes));
  }
  v1::WeightChunk commit;
  commit.set_version(options.version);
  commit.mutable_commit()->set_tensor_count(tensors.size());
  commit.mutable_commit()->set_total_bytes(total);
  if (!sink(commit)) return absl::CancelledError("the receiver stopped the stream at the commit");
  return sent;
}

absl::StatusOr<uint64_t> SendWeightStreamToWire(
    const std::map<std::string, at::Tensor>& tensors, const SendOptions& options,
    const std::function<bool(const grpc::ByteBuffer&)>& sink) {
  auto send = [&](const v1::WeightChunk& message) {
    grpc::ByteBuffer buffer;
    bool own = false;
    if (!grpc::SerializationTraits<v1::WeightChunk>::Serialize(message, &buffer, &own).ok()) {
      return false;
    }
    return sink(buffer);
  };
  v1::WeightChunk message;
  message.set_version(options.version);
  ASSIGN_OR_RETURN(*message.mutable_manifest(), MakeManifest(tensors, options));
  const uint64_t total = message.manifest().total_bytes();
  if (!send(message))
    return absl::CancelledError("the receiver stopped the stream at the manifest");
  // Every chunk is a WeightChunk{version, tensor = TensorChunk}.
  v1::WeightChunk version_only;
  version_only.set_version(options.version);
  const tensor::WireEnvelope envelope{version_only.SerializeAsString(),
                                      v1::WeightChunk::kTensorFieldNumber};
  uint64_t sent = 0;
  for (const auto& [name, t] : tensors) {
    RETURN_IF_ERROR(tensor::EncodeTensorToWire(name, t, envelope, sink, options.chunk_bytes));
    sent += static_cast<uint64_t>(t.numel()) * t.element_size();
  }
  v1::WeightChunk commit;
  commit.set_version(options.version);
  commit.mutable_commit()->set_tensor_count(tensors.size());
  commit.mutable_commit()->set_total_bytes(total);
  if (!send(commit)) return absl::CancelledError("the receiver stopped the stream at the commit");
  return sent;
}

}  // namespace plumb::weights
