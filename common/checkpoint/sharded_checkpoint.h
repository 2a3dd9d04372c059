// Hugging Face checkpoint directories: one `model.safetensors`, or shards
// `model-0000K-of-0000N.safetensors` listed by `model.safetensors.index.json`:
//   {"metadata": {"total_size": <bytes of tensor data>}, "weight_map": {"<tensor>": "<shard>"}}
//
// Reading a sharded checkpoint loads every shard the index names and checks that each tensor sits
// in the shard the index says, and that no tensor is missing from or extra to the weight map.
// Violations are DATA_LOSS naming the shard and the tensor; shard names that are not plain file
// names (a '/' or "..") are refused. "total_size" is not checked against the data: published
// checkpoints disagree on what it counts. All-or-nothing, like ReadSafetensors.
//
// Writing always produces shards plus an index (also when one shard suffices); every file is
// written atomically and the index last, so a crash never leaves an index naming missing shards.
// Rewriting a directory in place is not atomic as a whole: write a new directory and rename it.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_SHARDED_CHECKPOINT_H_
#define PLUMB_COMMON_CHECKPOINT_SHARDED_CHECKPOINT_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/checkpoint/safetensors_index.h"
#include "common/checkpoint/safetensors_reader.h"
#include "common/checkpoint/tensor_map.h"

namespace plumb::checkpoint {

inline constexpr char kSingleSafetensorsFileName[] = "model.safetensors";

// Loads the shards an index names (they sit beside the index) into one map.
absl::StatusOr<TensorMap> ReadShardedSafetensors(const std::filesystem::path& index_path,
                                                 const SafetensorsReadOptions& options = {});

// A checkpoint directory: the index when `dir` has one, else `dir`/model.safetensors.
absl::StatusOr<TensorMap> ReadSafetensorsCheckpoint(const std::filesystem::path& dir,
                                                    const SafetensorsReadOptions& options = {});

struct ShardedWriteOptions {
  // Tensor bytes per shard (decimal GB, as Hugging Face counts). Tensors fill shards in name
  // order; one larger than this gets a shard of its own.
  uint64_t max_shard_bytes = 5'000'000'000;
  // Written into every shard. Hugging Face loaders expect "format": "pt".
  SafetensorsMetadata shard_metadata = {{"format", "pt"}};
};

// Writes `tensors` into `dir` (which must exist) as shards plus an index. Returns the file names
// written, shards first and the index last. INVALID_ARGUMENT before anything is written when a
// tensor cannot be stored (see safetensors_writer.h).
absl::StatusOr<std::vector<std::string>> WriteShardedSafetensors(
    const std::filesystem::path& dir, const TensorMap& tensors,
    const ShardedWriteOptions& options = {});

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_SHARDED_CHECKPOINT_H_
