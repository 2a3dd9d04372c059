// Tensors rebuilt from a stream of checksummed chunks, in domain types (no protobuf): the
// receiving half of proto/plumb/v1/tensor.proto's TensorChunk stream. tensor_codec.h converts a
// v1::TensorChunk into the TensorChunkView read here (ViewOf), and holds the sending half.
//
// Each chunk repeats name, dtype, shape and total size and carries the XXH3-64 checksum of its
// own data. TensorAssembler validates each chunk as it arrives: bad metadata or ordering is
// INVALID_ARGUMENT and a checksum mismatch is DATA_LOSS — never a crash, never a half-filled
// tensor handed out.
//
// Thread safety: the functions are reentrant; a TensorAssembler belongs to one stream/thread.
#ifndef PLUMB_COMMON_TENSOR_TENSOR_ASSEMBLER_H_
#define PLUMB_COMMON_TENSOR_TENSOR_ASSEMBLER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/tensor/checksum.h"

namespace plumb::tensor {

// The element types a tensor stream carries. The values are plumb.v1.DType's (tensor_codec.cc
// checks that they agree); any other value is a dtype the sender named but Plumb does not know.
enum class DType : int32_t {
  kUnspecified = 0,
  kFloat32 = 1,
  kBFloat16 = 2,
  kFloat16 = 3,
  kInt64 = 4,
  kInt32 = 5,
};

// The wire name, as errors have always spelled it ("DTYPE_FLOAT32"); "" for an unknown value.
absl::string_view DTypeName(DType dtype);
// INVALID_ARGUMENT for torch types Plumb does not send.
absl::StatusOr<DType> ToDType(c10::ScalarType type);
// INVALID_ARGUMENT for kUnspecified and unknown values.
absl::StatusOr<c10::ScalarType> ToScalarType(DType dtype);
// Bytes per element (0 for kUnspecified and unknown values).
size_t ElementSize(DType dtype);

// numel x element_size of `shape`; INVALID_ARGUMENT naming `name` ("" = an anonymous tensor) for a
// negative dimension or a size that overflows 64 bits.
absl::StatusOr<uint64_t> TensorByteSize(absl::string_view name, absl::Span<const int64_t> shape,
                                        size_t element_size);
// "[2, 3]".
std::string ShapeString(absl::Span<const int64_t> shape);

// One chunk of a tensor stream. Borrows every field's memory from the message it was read from:
// valid only while that message is.
struct TensorChunkView {
  absl::string_view name;  // "" is allowed for a stream of one anonymous tensor
  DType dtype = DType::kUnspecified;
  absl::Span<const int64_t> shape;  // of the whole tensor
  uint64_t offset = 0;              // of `data` within the tensor's bytes
  uint64_t total_bytes = 0;         // of the whole tensor
  uint64_t checksum = 0;            // XXH3-64 of `data`
  absl::string_view data;
};

struct NamedTensor {
  std::string name;
  at::Tensor tensor;  // contiguous, on CPU
};

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

  // Adds the next chunk (its data is copied before Add returns). Returns the tensor when this
  // chunk completes it, nullopt while more chunks are expected. After an error the assembler is
  // reset; the partial tensor is dropped.
  absl::StatusOr<std::optional<NamedTensor>> Add(const TensorChunkView& chunk);

  // Call when the stream has ended: INVALID_ARGUMENT if a tensor is still incomplete.
  absl::Status Finish() const;

 private:
  struct Pending;
  absl::Status Start(const TensorChunkView& chunk);
  void Reset();

  AssemblerOptions options_;
  std::unique_ptr<Pending> pending_;
};

}  // namespace plumb::tensor

#endif  // PLUMB_COMMON_TENSOR_TENSOR_ASSEMBLER_H_
