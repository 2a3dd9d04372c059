// The receiving side of a weight stream (proto/plumb/v1/weights.proto): checks the manifest
// against the receiver's model before any data arrives, reassembles and checksums every tensor
// into staging memory, and on a complete, consistent stream hands back the new tensors for the
// service to swap in atomically. Nothing is applied unless the whole stream validates.
// Domain types only (no protobuf, no gRPC): weight_stream_proto.h turns v1::WeightChunk messages
// into the WeightMessages read here.
//
// Status codes are the ones weights.proto documents: INVALID_ARGUMENT for framing, names, shapes
// and counts; FAILED_PRECONDITION for another architecture or a downgrade; ALREADY_EXISTS for
// the version already held; DATA_LOSS for a checksum mismatch.
//
// Thread safety: one receiver per stream, used by the thread reading that stream.
#ifndef PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_RECEIVER_H_
#define PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_RECEIVER_H_

#include <ATen/core/Tensor.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/tensor/tensor_assembler.h"

namespace plumb::weights {

// weights.proto's messages as the receiver reads them (field meanings there).
struct TensorSpec {
  std::string name;
  tensor::DType dtype = tensor::DType::kUnspecified;
  std::vector<int64_t> shape;
  uint64_t total_bytes = 0;
};

struct WeightManifest {
  uint64_t version = 0;
  std::string model;
  std::string architecture;
  std::vector<TensorSpec> tensors;
  uint64_t total_bytes = 0;
  std::string source;
  bool partial = false;
  bool allow_downgrade = false;
};

struct WeightCommit {
  uint64_t tensor_count = 0;
  uint64_t total_bytes = 0;
};

// One message of a stream: its version and one payload (monostate: a message without one). A
// tensor chunk borrows its bytes from the message it was read from (no copy).
struct WeightMessage {
  uint64_t version = 0;
  std::variant<std::monostate, WeightManifest, tensor::TensorChunkView, WeightCommit> payload;
};

// What the receiver holds: the tensors it accepts (name -> shape) and its current version.
struct WeightTarget {
  std::string model;  // the name a manifest must give ("" = the receiver's only model)
  // Must equal the manifest's; without a "score.weight" (no reward head), its part before '/'.
  std::string architecture;
  std::map<std::string, std::vector<int64_t>> shapes;
  bool has_weights = false;
  uint64_t version = 0;
  uint64_t max_total_bytes = uint64_t{64} << 30;
  // Optional: where to write the tensors of a validated manifest, in place (e.g. views into a
  // staging model). Called once, after the manifest checks; nullopt = reassemble into new
  // tensors. The map must hold a contiguous CPU tensor of the manifest's dtype and shape for
  // every tensor it names.
  std::function<std::optional<std::map<std::string, at::Tensor>>(const WeightManifest&)>
      destinations;
};

struct ReceivedWeights {
  uint64_t version = 0;
  bool partial = false;
  std::string source;
  std::map<std::string, at::Tensor> tensors;  // CPU, in the dtype they were sent in
  // The tensors were written into WeightTarget::destinations (`tensors` are those views).
  bool in_place = false;
  uint64_t bytes = 0;
  double seconds = 0;  // from the manifest's arrival to Finish
};

class WeightStreamReceiver {
 public:
  // Chooses the target once the manifest has arrived (e.g. the model it names); its error ends
  // the stream before any data is read.
  using TargetChooser = std::function<absl::StatusOr<WeightTarget>(const WeightManifest&)>;

  explicit WeightStreamReceiver(WeightTarget target);
  explicit WeightStreamReceiver(TargetChooser choose);
  ~WeightStreamReceiver();

  // Takes the next message of the stream. After an error the stream is dead: the caller ends
  // the call with that status.
  absl::Status Add(const WeightMessage& message);

  // The stream has ended (the client half-closed): INVALID_ARGUMENT unless a manifest, every
  // tensor of it and a commit with matching counts arrived.
  absl::StatusOr<ReceivedWeights> Finish();

  // The manifest, once it has arrived (for logs and GetInfo).
  const WeightManifest* manifest() const;

 private:
  absl::Status OnManifest(const WeightManifest& manifest, uint64_t version);
  absl::Status OnTensorChunk(const tensor::TensorChunkView& chunk);

  struct State;
  TargetChooser choose_;
  WeightTarget target_;
  std::unique_ptr<State> state_;
};

}  // namespace plumb::weights

#endif  // PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_RECEIVER_H_
