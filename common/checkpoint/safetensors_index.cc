#include "common/checkpoint/safetensors_index.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/file_io.h"
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

std::string Quoted(const std::string& name) { return Echo(name, kDefaultEchoBytes, '\''); }

}  // namespace

absl::StatusOr<SafetensorsIndex> ParseSafetensorsIndex(absl::string_view text,
                                                       absl::string_view source) {
  const auto error = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(source, ": ", what));
  };
  ASSIGN_OR_RETURN(const json root,
                   json_input::ParseJson(text, {.source = source,
                                                .error_code = absl::StatusCode::kDataLoss,
                                                .reject_duplicate_keys = true}));
  if (!root.is_object()) {
    return error(
        absl::StrCat("is a JSON ", JsonTypeName(root), ", expected an object with \"weight_map\""));
  }
  SafetensorsIndex index;
  if (auto metadata = root.find("metadata"); metadata != root.end()) {
    if (!metadata->is_object()) {
      return error(
          absl::StrCat("\"metadata\" is a ", JsonTypeName(*metadata), ", expected an object"));
    }
    // Informational only: a total_size that is not a non-negative integer is ignored.
    if (auto total = metadata->find("total_size");
        total != metadata->end() && total->is_number_unsigned()) {
      index.total_size = total->get<uint64_t>();
    }
  }
  auto weight_map = root.find("weight_map");
  if (weight_map == root.end()) return error("has no \"weight_map\"");
  if (!weight_map->is_object()) {
    return error(absl::StrCat("\"weight_map\" is a ", JsonTypeName(*weight_map),
                              ", expected an object of tensor → shard file"));
  }
  for (const auto& [tensor, shard] : weight_map->items()) {
    if (!shard.is_string()) {
      return error(absl::StrCat("tensor ", Quoted(tensor), ": shard is a ", JsonTypeName(shard),
                                ", expected a file name"));
    }
    std::string file = shard.get<std::string>();
    if (!IsPlainFileName(file)) {
      return error(absl::StrCat("tensor ", Quoted(tensor), ": shard ", Quoted(file),
                                " is not a plain file name beside the index"));
    }
    index.weight_map.emplace(tensor, std::move(file));
  }
  return index;
}

absl::StatusOr<SafetensorsIndex> ReadSafetensorsIndex(const std::filesystem::path& index_path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFileToString(index_path, kMaxSafetensorsIndexBytes));
  return ParseSafetensorsIndex(text, index_path.string());
}

}  // namespace plumb::checkpoint
