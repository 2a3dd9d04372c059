// Named tensors as checkpoints hold them: sorted by name, so files and messages are deterministic.
// Thread safety: plain value types.
#ifndef PLUMB_COMMON_CHECKPOINT_TENSOR_MAP_H_
#define PLUMB_COMMON_CHECKPOINT_TENSOR_MAP_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::checkpoint {

using TensorMap = std::map<std::string, at::Tensor>;
// The free-form string → string "__metadata__" of a safetensors file.
using SafetensorsMetadata = std::map<std::string, std::string>;

// "[64, 128]"; "[]" for a scalar.
inline std::string FormatShape(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_TENSOR_MAP_H_
