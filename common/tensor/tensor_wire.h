// Zero-copy sending of TensorChunk messages: each chunk becomes a gRPC ByteBuffer of two slices,
// a small serialised header (name, dtype, shape, offset, total_bytes, checksum) and the chunk's
// bytes referenced in place in the tensor's memory (kept alive by the slice). The receiver sees
// ordinary TensorChunk messages: protobuf merges the header and the data field, so any
// TensorChunk reader (TensorAssembler, generated stubs) accepts them unchanged.
//
// Saves the two copies a generated stub makes per chunk on the sending side (tensor → protobuf
// string → gRPC slice). Use it with a raw ByteBuffer stream (RawClientWriter below) where
// weights or large tensors are sent.
//
// Thread safety: reentrant; the tensor must not be modified until the stream has finished.
#ifndef PLUMB_COMMON_TENSOR_TENSOR_WIRE_H_
#define PLUMB_COMMON_TENSOR_TENSOR_WIRE_H_

#include <grpcpp/support/byte_buffer.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/tensor/tensor_codec.h"

namespace plumb::tensor {

// Like EncodeTensor, but hands `sink` wire-ready ByteBuffers whose data is not copied.
absl::Status EncodeTensorToWire(const std::string& name, const at::Tensor& tensor,
                                const std::function<bool(const grpc::ByteBuffer&)>& sink,
                                size_t chunk_bytes = kDefaultChunkBytes);

// The message that carries each TensorChunk, when the stream's message type wraps it (e.g.
// WeightChunk's `tensor` field): the wrapper's other fields, already serialised, and the field
// number of its TensorChunk field.
struct WireEnvelope {
  std::string fields;
  int tensor_field = 0;
};

// EncodeTensorToWire with every chunk wrapped in `envelope`.
absl::Status EncodeTensorToWire(const std::string& name, const at::Tensor& tensor,
                                const WireEnvelope& envelope,
                                const std::function<bool(const grpc::ByteBuffer&)>& sink,
                                size_t chunk_bytes = kDefaultChunkBytes);

}  // namespace plumb::tensor

#endif  // PLUMB_COMMON_TENSOR_TENSOR_WIRE_H_
