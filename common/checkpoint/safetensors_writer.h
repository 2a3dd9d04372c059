// Writes tensors as one safetensors file, atomically (temporary file + rename, see file_io.h).
//
// Layout: header keys sorted by name; the data buffer holds tensors by decreasing element size,
// then by name, so that each tensor starts at a multiple of its element size (the JSON header is
// padded with spaces so the data buffer starts at a multiple of 8). Readers that map the file can
// then view tensors without copying. Non-contiguous or non-CPU tensors are copied to contiguous
// CPU memory first; values are written bit for bit, little-endian.
//
// Storable: dtypes with a safetensors name (float32, bfloat16, float16, float64, int64, int32,
// int16, int8, uint8, bool), strided layout, any name except "" and "__metadata__".
// Thread safety: reentrant; the tensors must not be modified while being written.
#ifndef PLUMB_COMMON_CHECKPOINT_SAFETENSORS_WRITER_H_
#define PLUMB_COMMON_CHECKPOINT_SAFETENSORS_WRITER_H_

#include <cstdint>
#include <filesystem>

#include "absl/status/status.h"
#include "common/checkpoint/tensor_map.h"

namespace plumb::checkpoint {

// INVALID_ARGUMENT naming the first tensor that cannot be stored (see above), else OK.
absl::Status CheckStorable(const TensorMap& tensors);

// Bytes `tensor` occupies in a file: numel × element size.
uint64_t TensorBytes(const at::Tensor& tensor);

absl::Status WriteSafetensors(const std::filesystem::path& path, const TensorMap& tensors,
                              const SafetensorsMetadata& metadata = {});

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_SAFETENSORS_WRITER_H_
