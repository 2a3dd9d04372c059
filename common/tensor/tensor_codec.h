// torch tensors <-> plumb.v1.TensorChunk streams (see proto/plumb/v1/tensor.proto).
//
// A tensor is sent as chunks of at most `chunk_bytes` (default 1 MiB) of its raw little-endian
// bytes; every chunk repeats name, dtype, shape and total size and carries the XXH3-64 checksum
// of its own data. TensorAssembler rebuilds tensors on the receiving side, validating each chunk
// as it arrives: bad metadata or ordering is INVALID_ARGUMENT and a checksum mismatch is
// DATA_LOSS — never a crash, never a half-filled tensor handed out.
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
#include "plumb/v1/tensor.pb.h"

namespace plumb::tensor {

inline constexpr size_t kDefaultChunkBytes = 1 << 20;

struct NamedTensor {
  std::string name;
  at::Tensor tensor;  // contiguous, on CPU
};

// The wire dtype of a torch scalar type; INVALID_ARGUMENT for types Plumb does not send.
absl::StatusOr<v1::DType> ToWireDType(c10::ScalarType type);
absl::StatusOr<c10::ScalarType> FromWireDType(v1::DType dtype);
// Bytes per element of a wire dtype (0 for unknown).
size_t WireElementSize(v1::DType dtype);

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

struct AssemblerOptions {
  // Largest tensor accepted; protects against a header that claims an absurd size.
  uint64_t max_tensor_bytes = uint64_t{32} << 30;
  // Where a tensor's bytes go, given its name, dtype and shape (e.g. a preallocated staging
  // parameter, so that a weight swap writes in place instead of allocating and page-faulting
  // fresh memory). Must return a contiguous CPU tensor of exactly that dtype and shape, else the
  // chunk is refused with INVALID_ARGUMENT. Unset: a new tensor per stream.
  std::function<absl::StatusOr<at::Tensor>(const std::string& name, c10::ScalarType dtype,
                                           at::IntArrayRef shape)>
      destination;
};

// Reassembles tensors from a stream of chunks (one tensor after another).
class TensorAssembler {
 public:
  explicit TensorAssembler(AssemblerOptions options = {});
  ~TensorAssembler();
  TensorAssembler(const TensorAssembler&) = delete;
  TensorAssembler& operator=(const TensorAssembler&) = delete;

  // Adds the next chunk. Returns the tensor when this chunk completes it, nullopt while more
  // chunks are expected. After an error the assembler is reset; the partial tensor is dropped.
  absl::StatusOr<std::optional<NamedTensor>> Add(const v1::TensorChunk& chunk);

  // Call when the stream has ended: INVALID_ARGUMENT if a tensor is still incomplete.
  absl::Status Finish() const;

 private:
  struct Pending;
  absl::Status Start(const v1::TensorChunk& chunk);
  void Reset();

  AssemblerOptions options_;
  std::unique_ptr<Pending> pending_;
};

// A whole tensor in one message (small tensors only: data ≤ gRPC's message limit).
absl::StatusOr<v1::Tensor> ToProto(const at::Tensor& tensor);
// INVALID_ARGUMENT when dtype, shape and data length disagree.
absl::StatusOr<at::Tensor> FromProto(const v1::Tensor& proto);

}  // namespace plumb::tensor

#endif  // PLUMB_COMMON_TENSOR_TENSOR_CODEC_H_
