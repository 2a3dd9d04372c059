#include "common/checkpoint/sharded_checkpoint.h"

#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/checkpoint/file_io.h"
#include "common/checkpoint/safetensors_writer.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::checkpoint {
namespace {

using nlohmann::json;

absl::Status IndexError(const std::filesystem::path& index_path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(index_path.string(), ": ", what));
}

}  // namespace

absl::StatusOr<TensorMap> ReadShardedSafetensors(const std::filesystem::path& index_path,
                                                 const SafetensorsReadOptions& options) {
  ASSIGN_OR_RETURN(const SafetensorsIndex index, ReadSafetensorsIndex(index_path));
  std::set<std::string> shards;
  for (const auto& [tensor, shard] : index.weight_map) shards.insert(shard);

  TensorMap tensors;
  for (const std::string& shard : shards) {
    ASSIGN_OR_RETURN(SafetensorsContents contents,
                     ReadSafetensors(index_path.parent_path() / shard, options));
    for (auto& [name, tensor] : contents.tensors) {
      auto listed = index.weight_map.find(name);
      if (listed == index.weight_map.end()) {
        return IndexError(index_path,
                          absl::StrCat("shard ", Echo(shard, kDefaultEchoBytes, '\''),
                                       " holds tensor ", Echo(name, kDefaultEchoBytes, '\''),
                                       ", which the weight_map does not list"));
      }
      if (listed->second != shard) {
        return IndexError(
            index_path,
            absl::StrCat("tensor ", Echo(name, kDefaultEchoBytes, '\''), " is in shard ",
                         Echo(shard, kDefaultEchoBytes, '\''), " but the weight_map says ",
                         Echo(listed->second, kDefaultEchoBytes, '\'')));
      }
      tensors.emplace(name, std::move(tensor));
    }
  }
  for (const auto& [name, shard] : index.weight_map) {
    if (!tensors.contains(name)) {
      return IndexError(index_path,
                        absl::StrCat("tensor ", Echo(name, kDefaultEchoBytes, '\''),
                                     " is missing: the weight_map puts it in shard ",
                                     Echo(shard, kDefaultEchoBytes, '\''), ", which lacks it"));
    }
  }
  return tensors;
}

absl::StatusOr<TensorMap> ReadSafetensorsCheckpoint(const std::filesystem::path& dir,
                                                    const SafetensorsReadOptions& options) {
  const std::filesystem::path index_path = dir / kSafetensorsIndexFileName;
  std::error_code error;
  if (std::filesystem::exists(index_path, error))
    return ReadShardedSafetensors(index_path, options);
  const std::filesystem::path single = dir / kSingleSafetensorsFileName;
  if (!std::filesystem::exists(single, error)) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": no ", kSafetensorsIndexFileName,
                                            " and no ", kSingleSafetensorsFileName));
  }
  ASSIGN_OR_RETURN(SafetensorsContents contents, ReadSafetensors(single, options));
  return std::move(contents.tensors);
}

absl::StatusOr<std::vector<std::string>> WriteShardedSafetensors(
    const std::filesystem::path& dir, const TensorMap& tensors,
    const ShardedWriteOptions& options) {
  RETURN_IF_ERROR(Annotate(CheckStorable(tensors), dir.string()));
  // Greedy in name order, like Hugging Face: a new shard when the next tensor would not fit.
  std::vector<TensorMap> shards(1);
  uint64_t shard_bytes = 0;
  uint64_t total_bytes = 0;
  for (const auto& [name, tensor] : tensors) {
    const uint64_t bytes = TensorBytes(tensor);
    if (!shards.back().empty() && shard_bytes + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().emplace(name, tensor);
    shard_bytes += bytes;
    total_bytes += bytes;
  }

  std::vector<std::string> written;
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    std::string file = absl::StrFormat("model-%05d-of-%05d.safetensors", i + 1, shards.size());
    RETURN_IF_ERROR(WriteSafetensors(dir / file, shards[i], options.shard_metadata));
    for (const auto& [name, tensor] : shards[i]) weight_map[name] = file;
    written.push_back(std::move(file));
  }
  const json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  RETURN_IF_ERROR(
      WriteStringToFileAtomically(dir / kSafetensorsIndexFileName, index.dump(2) + "\n"));
  written.push_back(kSafetensorsIndexFileName);
  return written;
}

}  // namespace plumb::checkpoint
