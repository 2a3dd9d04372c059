// The header of a safetensors file, parsed and validated without touching tensor data.
//
// File layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (possibly padded
// with trailing spaces), then the data buffer. The JSON object maps each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative to the data buffer) and may
// hold "__metadata__": {string: string}.
//
// Every violation of the format is DATA_LOSS (the bytes are not a valid safetensors file); a
// dtype the format defines but LibTorch 1.13 lacks (U16, U32, U64, F8_*) is UNIMPLEMENTED.
// Messages start with the file name and name the tensor. Validation covers: JSON syntax, duplicate
// names, entry structure, dtype, shape (no negative dims, no overflow), data_offsets (two
// non-negative integers, begin <= end <= data buffer size, end - begin = numel * element size),
// and that the tensors tile the data buffer exactly: no gap, no overlap, no trailing bytes.
// JSON nesting deeper than json_input::kMaxJsonDepth and more than kMaxSafetensorsTensors tensors
// are refused; parsing is O(n log n) in the number of tensors.
// Unknown keys inside a tensor entry are ignored (forward compatibility).
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_SAFETENSORS_HEADER_H_
#define PLUMB_COMMON_CHECKPOINT_SAFETENSORS_HEADER_H_

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/checkpoint/tensor_map.h"

namespace plumb::checkpoint {

// The format's own limit on the JSON header, against headers that claim absurd sizes.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;
// Tensors in one file. Real checkpoints hold at most a few thousand per shard; the bound keeps the
// per-tensor work and memory of a hostile header small.
inline constexpr size_t kMaxSafetensorsTensors = 200'000;

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as in the file, e.g. "BF16"
  c10::ScalarType scalar_type = c10::ScalarType::Float;
  size_t element_size = 0;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // [begin, end): bytes of the data buffer
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_offset = 0;  // where the data buffer starts in the file: 8 + header length
  uint64_t data_bytes = 0;   // size of the data buffer
  SafetensorsMetadata metadata;
  std::vector<SafetensorsEntry> entries;  // sorted by name
};

// Validates the JSON `header_json` against a data buffer of `data_bytes` bytes; `source` (the file
// name) starts every error message. The returned header has data_offset = 0; the file reader
// sets it.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(absl::string_view header_json,
                                                         uint64_t data_bytes,
                                                         absl::string_view source);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_SAFETENSORS_HEADER_H_
