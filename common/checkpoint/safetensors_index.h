// The shard index of a Hugging Face checkpoint, `model.safetensors.index.json`:
//   {"metadata": {"total_size": <bytes of tensor data>}, "weight_map": {"<tensor>": "<shard>"}}
// parsed and validated without LibTorch (sharded_checkpoint.h loads the shards it names).
// Violations are DATA_LOSS naming the file and the tensor: invalid JSON, nesting deeper than
// json_input::kMaxJsonDepth, duplicate keys, wrong types, shard names that are not plain file
// names (a '/' or ".."). "total_size" is informational and not checked.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_SAFETENSORS_INDEX_H_
#define PLUMB_COMMON_CHECKPOINT_SAFETENSORS_INDEX_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::checkpoint {

inline constexpr char kSafetensorsIndexFileName[] = "model.safetensors.index.json";
// Index files are read whole; 16 MiB holds ~200,000 tensor entries.
inline constexpr uint64_t kMaxSafetensorsIndexBytes = uint64_t{16} << 20;

struct SafetensorsIndex {
  std::optional<uint64_t> total_size;             // metadata.total_size when present
  std::map<std::string, std::string> weight_map;  // tensor name → shard file name
};

// Parses index text; `source` (the file name) starts every error message.
absl::StatusOr<SafetensorsIndex> ParseSafetensorsIndex(absl::string_view text,
                                                       absl::string_view source);

// Reads (at most kMaxSafetensorsIndexBytes) and parses an index file.
absl::StatusOr<SafetensorsIndex> ReadSafetensorsIndex(const std::filesystem::path& index_path);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_SAFETENSORS_INDEX_H_
