#include "services/plumb-model/info_command.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/checkpoint/safetensors_reader.h"
#include "common/checkpoint/sharded_checkpoint.h"
#include "services/plumb-model/model_folder.h"
#include "services/plumb-model/model_summary.h"
#include "services/plumb-model/terminal_text.h"

namespace plumb::model_tool {
namespace {

namespace fs = std::filesystem;

// Plumb's heads (hf_checkpoint.h): not part of ModelConfig::ParameterCount().
bool IsHeadTensor(const std::string& name) {
  return name == "value_head.weight" || name == "score.weight";
}

struct DtypeTotals {
  int64_t tensors = 0;
  int64_t parameters = 0;
  uint64_t bytes = 0;
};

struct WeightSummary {
  std::vector<std::string> files;  // file names inside the folder
  int64_t tensors = 0;
  int64_t parameters = 0;       // network tensors
  int64_t head_parameters = 0;  // value and reward heads
  uint64_t bytes = 0;           // tensor data
  std::map<std::string, DtypeTotals> dtypes;
};

absl::StatusOr<std::vector<std::string>> WeightFiles(const fs::path& dir) {
  std::error_code error;
  if (fs::exists(dir / checkpoint::kSafetensorsIndexFileName, error)) {
    absl::StatusOr<checkpoint::SafetensorsIndex> index =
        checkpoint::ReadSafetensorsIndex(dir / checkpoint::kSafetensorsIndexFileName);
    if (!index.ok()) return index.status();
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : index->weight_map) shards.insert(shard);
    return std::vector<std::string>(shards.begin(), shards.end());
  }
  if (fs::exists(dir / checkpoint::kSingleSafetensorsFileName, error)) {
    return std::vector<std::string>{checkpoint::kSingleSafetensorsFileName};
  }
  return absl::NotFoundError(
      absl::StrCat(dir.string(),
                   ": no weights (model.safetensors or model.safetensors.index.json); create a "
                   "model with `plumb-model init`"));
}

absl::StatusOr<WeightSummary> SummarizeWeights(const fs::path& dir) {
  WeightSummary summary;
  absl::StatusOr<std::vector<std::string>> files = WeightFiles(dir);
  if (!files.ok()) return files.status();
  summary.files = *files;
  for (const std::string& file : summary.files) {
    absl::StatusOr<checkpoint::SafetensorsHeader> header =
        checkpoint::ReadSafetensorsHeader(dir / file);
    if (!header.ok()) return header.status();
    for (const checkpoint::SafetensorsEntry& entry : header->entries) {
      int64_t numel = 1;
      for (const int64_t dim : entry.shape) numel *= dim;
      const uint64_t bytes = entry.end - entry.begin;
      (IsHeadTensor(entry.name) ? summary.head_parameters : summary.parameters) += numel;
      ++summary.tensors;
      summary.bytes += bytes;
      DtypeTotals& totals = summary.dtypes[entry.dtype];
      ++totals.tensors;
      totals.parameters += numel;
      totals.bytes += bytes;
    }
  }
  return summary;
}

}  // namespace

absl::StatusOr<CommandOutput> RunInfo(const InfoOptions& options) {
  const fs::path dir(options.dir);
  absl::StatusOr<model::ModelConfig> config = ReadModelFolderConfig(dir);
  if (!config.ok()) return config.status();
  absl::StatusOr<WeightSummary> weights = SummarizeWeights(dir);
  if (!weights.ok()) return weights.status();
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tokenizer = LoadModelFolderTokenizer(dir);

  std::vector<std::string> warnings;
  if (weights->parameters != config->ParameterCount()) {
    warnings.push_back(absl::StrCat("the checkpoint holds ", weights->parameters,
                                    " network parameters, config.json implies ",
                                    config->ParameterCount()));
  }
  if (tokenizer.ok() && (*tokenizer)->vocab_size() > config->vocab_size) {
    warnings.push_back(absl::StrCat("the tokenizer has ", (*tokenizer)->vocab_size(),
                                    " ids but the model only ", config->vocab_size));
  }

  nlohmann::ordered_json dtypes = nlohmann::ordered_json::object();
  std::vector<std::string> dtype_names;
  for (const auto& [name, totals] : weights->dtypes) {
    dtypes[name] = {
        {"tensors", totals.tensors}, {"parameters", totals.parameters}, {"bytes", totals.bytes}};
    dtype_names.push_back(name);
  }
  CommandOutput output;
  output.json = {
      {"folder", dir.string()},
      {"parameters", weights->parameters},
      {"head_parameters", weights->head_parameters},
      {"tensors", weights->tensors},
      {"weight_bytes", weights->bytes},
      {"dtypes", dtypes},
      {"weight_files", weights->files},
      {"config", ConfigToJson(*config)},
      {"tokenizer", tokenizer.ok()
                        ? TokenizerToJson(**tokenizer)
                        : nlohmann::ordered_json{{"error", tokenizer.status().message()}}},
      {"warnings", warnings},
  };
  output.text = absl::StrCat(
      dir.string(), "\n  parameters  ", WithThousandsSeparators(weights->parameters), " (+ ",
      WithThousandsSeparators(weights->head_parameters), " in the value/reward heads)\n",
      "  weights     ", WithThousandsSeparators(static_cast<int64_t>(weights->bytes)), " bytes, ",
      weights->tensors, " tensors, ", absl::StrJoin(dtype_names, " "), ", in ",
      absl::StrJoin(weights->files, " "), "\n  tokenizer   ",
      tokenizer.ok() ? TokenizerText(**tokenizer)
                     : absl::StrCat("none: ", tokenizer.status().message()),
      "\n  config\n", ConfigText(*config, "    "));
  for (const std::string& warning : warnings)
    absl::StrAppend(&output.text, "warning: ", warning, "\n");
  return output;
}

Subcommand AddInfoCommand(CLI::App& parent) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* app = parent.add_subcommand(
      "info", "Describe a model folder: parameters, dtypes, weight bytes, config, tokenizer");
  app->add_option("dir", options->dir, "Model folder")->required()->type_name("DIR");
  return {app, [options] { return RunInfo(*options); }};
}

}  // namespace plumb::model_tool
