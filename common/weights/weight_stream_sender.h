// The sending side of a weight stream (proto/plumb/v1/weights.proto): a manifest, every tensor
// in ~1 MiB checksummed chunks, and a commit, handed to a sink (a gRPC client writer of any
// service's LoadWeights). The learner's PublishWeights and tests use it.
//
// Thread safety: a plain function; the tensors must not change while they are sent.
#ifndef PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_SENDER_H_
#define PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_SENDER_H_

#include <ATen/core/Tensor.h>
#include <grpcpp/support/byte_buffer.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "plumb/v1/weights.pb.h"

namespace plumb::weights {

struct SendOptions {
  uint64_t version = 0;
  std::string model;         // the receiver's model name ("" = its only model)
  std::string architecture;  // e.g. "llama"
  std::string source;        // for the receiver's logs, e.g. "learner:<session>"
  bool partial = false;
  bool allow_downgrade = false;
  size_t chunk_bytes = size_t{1} << 20;
  // WeightManifest.create_time: when the sender took the weights; unset = when the stream starts.
  std::optional<absl::Time> create_time;
};

// The manifest that SendWeightStream sends first.
absl::StatusOr<v1::WeightManifest> MakeManifest(const std::map<std::string, at::Tensor>& tensors,
                                                const SendOptions& options);

// Sends the whole stream to `sink`, which returns false when the transport broke (the result is
// then CANCELLED; the caller reads the real status from its call). Returns the data bytes sent.
absl::StatusOr<uint64_t> SendWeightStream(const std::map<std::string, at::Tensor>& tensors,
                                          const SendOptions& options,
                                          const std::function<bool(const v1::WeightChunk&)>& sink);

// SendWeightStream for a raw ByteBuffer stream (common/rpc/raw_stream.h): the same messages,
// serialised by hand so that tensor bytes go to the transport without being copied. The
// receiver cannot tell the two apart.
absl::StatusOr<uint64_t> SendWeightStreamToWire(
    const std::map<std::string, at::Tensor>& tensors, const SendOptions& options,
    const std::function<bool(const grpc::ByteBuffer&)>& sink);

}  // namespace plumb::weights

#endif  // PLUMB_COMMON_WEIGHTS_WEIGHT_STREAM_SENDER_H_
