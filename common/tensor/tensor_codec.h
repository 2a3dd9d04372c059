// torch tensors <-> plumb.v1.TensorChunk streams (see proto/plumb/v1/tensor.proto): the
// protobuf edge of tensor streams.
//
// A tensor is sent as chunks of at most `chunk_bytes` (default 1 MiB) of its raw little-endian
// bytes; every chunk repeats name, dtype, shape and total size and carries the XXH3-64 checksum
// of its own data. On the receiving side ViewOf turns each v1::TensorChunk into the domain view
// that TensorAssembler (tensor_assembler.h, no protobuf) validates and reassembles.
//
// Supported dtypes: float32, bfloat16, float16, int64, int32.
// Thread safety: the functions are reentrant; a TensorAssembler belongs to one stream/thread.
#ifndef PLUMB_COMMON_TENSOR_TENSOR_CODEC_H_
#define PLUMB_COMMON_TENSOR_TENSOR_CODEC_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/tensor/checksum.h"
#include "common/tensor/tensor_assembler.h"
#include "plumb/v1/tensor.pb.h"

namespace plumb::tensor {

inline constexpr size_t kDefaultChunkBytes = 1 << 20;

// The wire dtype of a torch scalar type; INVALID_ARGUMENT for types Plumb does not send.
absl::StatusOr<v1::DType> ToWireDType(c10::ScalarType type);
absl::StatusOr<c10::ScalarType> FromWireDType(v1::DType dtype);
// Bytes per element of a wire dtype (0 for unknown).
size_t WireElementSize(v1::DType dtype);
// The domain dtype of a wire dtype (same values; unknown values stay unknown) and back.
DType FromWire(v1::DType dtype);
v1::DType ToWire(DType dtype);

// `chunk` as TensorAssembler reads it; borrows chunk's memory (no copy of the data).
TensorChunkView ViewOf(const v1::TensorChunk& chunk);

// A tensor made ready to send: contiguous on the CPU, with the header every chunk repeats
// (name, dtype, shape, total_bytes). Shared by EncodeTensor and EncodeTensorToWire (tensor_wire.h).
struct OutgoingTensor {
  at::Tensor cpu;
  v1::TensorChunk header;  // without offset, checksum and data
  uint64_t total_bytes = 0;
  const char* bytes() const { return static_cast<const char*>(cpu.data_ptr()); }
};

// INVALID_ARGUMENT for an undefined tensor, an unsupported dtype or chunk_bytes == 0.
absl::StatusOr<OutgoingTensor> PrepareOutgoingTensor(const std::string& name,
                                                     const at::Tensor& tensor, size_t chunk_bytes);

// The CANCELLED status of a send whose sink stopped at `offset`.
absl::Status SendStopped(const std::string& name, uint64_t offset, uint64_t total);

// Splits `tensor` (any device and layout; copied to contiguous CPU memory when needed) into
// chunks and hands each to `sink` in order. The chunk passed to `sink` is reused between calls.
// `sink` returns false to stop early (e.g. the stream broke): the result is then CANCELLED.
absl::Status EncodeTensor(const std::string& name, const at::Tensor& tensor,
                          const std::function<bool(const v1::TensorChunk&)>& sink,
                          size_t chunk_bytes = kDefaultChunkBytes);

// Convenience: all chunks of one tensor in a vector.
absl::StatusOr<std::vector<v1::TensorChunk>> EncodeTensorToChunks(
    const std::string& name, const at::Tensor& tensor, size_t chunk_bytes = kDefaultChunkBytes);

// A whole tensor in one message (small tensors only: data ≤ gRPC's message limit).
absl::StatusOr<v1::Tensor> ToProto(const at::Tensor& tensor);
// INVALID_ARGUMENT when dtype, shape and data length disagree.
absl::StatusOr<at::Tensor> FromProto(const v1::Tensor& proto);

}  // namespace plumb::tensor

#endif  // PLUMB_COMMON_TENSOR_TENSOR_CODEC_H_
