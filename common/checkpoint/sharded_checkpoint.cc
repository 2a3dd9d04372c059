#include "common/checkpoint/sharded_checkpoint.h"

#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/checkpoint/file_io.h"
#include "common/checkpoint/safetensors_writer.h"
#include "common/json/parse_json.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::checkpoint {
namespace {

using json_input::JsonTypeName;
using nlohmann::json;

// Shards must sit beside the index: no directories, no way out of the checkpoint directory.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

absl::Status IndexError(const std::filesystem::path& index_path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(index_path.string(), ": ", what));
}

}  // namespace

absl::StatusOr<SafetensorsIndex> ReadSafetensorsIndex(const std::filesystem::path& index_path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFileToString(index_path));
  const std::string source = index_path.string();
  ASSIGN_OR_RETURN(const json root,
                   json_input::ParseJson(text, {.source = source,
                                                .error_code = absl::StatusCode::kDataLoss,
                                                .reject_duplicate_keys = true}));
  if (!root.is_object()) {
    return IndexError(index_path, absl::StrCat("is a JSON ", JsonTypeName(root),
                                               ", expected an object with \"weight_map\""));
  }
  SafetensorsIndex index;
  if (auto metadata = root.find("metadata"); metadata != root.end()) {
    if (!metadata->is_object()) {
      return IndexError(index_path, absl::StrCat("\"metadata\" is a ", JsonTypeName(*metadata),
                                                 ", expected an object"));
    }
    // Informational only: a total_size that is not a non-negative integer is ignored.
    if (auto total = metadata->find("total_size");
        total != metadata->end() && total->is_number_unsigned()) {
      index.total_size = total->get<uint64_t>();
    }
  }
  auto weight_map = root.find("weight_map");
  if (weight_map == root.end()) return IndexError(index_path, "has no \"weight_map\"");
  if (!weight_map->is_object()) {
    return IndexError(index_path, absl::StrCat("\"weight_map\" is a ", JsonTypeName(*weight_map),
                                               ", expected an object of tensor → shard file"));
  }
  for (const auto& [tensor, shard] : weight_map->items()) {
    if (!shard.is_string()) {
      return IndexError(
          index_path, absl::StrCat("tensor ", Echo(tensor, kDefaultEchoBytes, '\''),
                                   ": shard is a ", JsonTypeName(shard), ", expected a file name"));
    }
    std::string file = shard.get<std::string>();
    if (!IsPlainFileName(file)) {
      return IndexError(index_path, absl::StrCat("tensor ", Echo(tensor, kDefaultEchoBytes, '\''),
                                                 ": shard ", Echo(file, kDefaultEchoBytes, '\''),
                                                 " is not a plain file name beside the index"));
    }
    index.weight_map.emplace(tensor, std::move(file));
  }
  return index;
}

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
