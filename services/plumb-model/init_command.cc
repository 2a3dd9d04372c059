#include "services/plumb-model/init_command.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <memory>
#include <regex>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/transformer.h"
#include "common/status/echo.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/tokenizer/tokenizer.h"
#include "services/plumb-model/model_folder.h"
#include "services/plumb-model/model_summary.h"
#include "services/plumb-model/terminal_text.h"
#include "services/plumb-model/tokenizer_files.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

namespace fs = std::filesystem;

// What a model folder may hold that a new init replaces (with --force). Other files stay.
bool IsModelFile(const std::string& name) {
  static const std::regex kShard(R"(model-\d+-of-\d+\.safetensors)");
  for (const char* known :
       {"config.json", "generation_config.json", "model.safetensors",
        "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
        "special_tokens_map.json", "encoder.json", "vocab.bpe"}) {
    if (name == known) return true;
  }
  return std::regex_match(name, kShard);
}

// Makes `dir` an empty-enough folder to write a model into.
absl::Status PrepareOutputFolder(const fs::path& dir, bool force) {
  std::error_code error;
  const fs::file_status status = fs::status(dir, error);
  if (fs::exists(status) && !fs::is_directory(status)) {
    return absl::FailedPreconditionError(
        absl::StrCat(dir.string(), " exists and is not a folder; choose another --out"));
  }
  if (fs::exists(status) && !fs::is_empty(dir, error)) {
    if (!force) {
      return absl::FailedPreconditionError(
          absl::StrCat(dir.string(),
                       " is not empty; choose a new folder, or pass --force to replace the model "
                       "files in it"));
    }
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
      if (entry.is_regular_file() && IsModelFile(entry.path().filename().string())) {
        fs::remove(entry.path(), error);
        if (error) {
          return absl::PermissionDeniedError(
              absl::StrCat("cannot remove ", entry.path().string(), ": ", error.message()));
        }
      }
    }
  }
  fs::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", dir.string(), ": ", error.message()));
  }
  return absl::OkStatus();
}

absl::Status SaveRandomModel(const model::ModelConfig& config, uint64_t seed, const fs::path& dir) {
  torch::manual_seed(seed);
  model::Transformer model(config);
  return model::SaveHfModel(*model, dir);
}

std::vector<std::string> FolderFiles(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

absl::StatusOr<model::ModelConfig> PresetConfig(absl::string_view size) {
  model::ModelConfig config;
  if (size == "tiny") {
    config.hidden_size = 64;
    config.intermediate_size = 176;
    config.num_hidden_layers = 2;
    config.num_attention_heads = 4;
    config.num_key_value_heads = 2;
    config.max_position_embeddings = 256;
  } else if (size == "3m") {
    config.hidden_size = 256;
    config.intermediate_size = 640;
    config.num_hidden_layers = 4;
    config.num_attention_heads = 4;
    config.num_key_value_heads = 4;
    config.max_position_embeddings = 512;
  } else if (size == "25m") {
    config.hidden_size = 512;
    config.intermediate_size = 1376;
    config.num_hidden_layers = 8;
    config.num_attention_heads = 8;
    config.num_key_value_heads = 8;
    config.max_position_embeddings = 1024;
  } else {
    return UsageError(absl::StrCat("--size \"", size, "\" is not a preset; use tiny, 3m or 25m"));
  }
  return config;
}

absl::StatusOr<model::ModelConfig> InitConfig(const InitOptions& options, int64_t vocab_size) {
  absl::StatusOr<model::ModelConfig> preset = PresetConfig(options.size);
  if (!preset.ok()) return preset.status();
  model::ModelConfig config = *preset;
  config.vocab_size = vocab_size;
  if (options.hidden) config.hidden_size = *options.hidden;
  if (options.layers) config.num_hidden_layers = *options.layers;
  if (options.heads) config.num_attention_heads = config.num_key_value_heads = *options.heads;
  if (options.kv_heads) config.num_key_value_heads = *options.kv_heads;
  if (options.intermediate) config.intermediate_size = *options.intermediate;
  if (options.context) config.max_position_embeddings = *options.context;
  if (options.tied) config.tie_word_embeddings = true;
  config.num_reward_outputs = options.reward_outputs;
  if (!model::ParseRewardReadout(options.reward_readout, &config.reward_readout)) {
    return UsageError(absl::StrCat("--reward-readout must be last_token or response_mean, got ",
                                   ::plumb::Echo(options.reward_readout)));
  }
  if (absl::Status status = config.Validate(); !status.ok()) {
    return UsageError(absl::StrCat(status.message(),
                                   " (set --hidden, --heads, --kv-heads, --layers, "
                                   "--intermediate, --context or --reward-outputs)"));
  }
  return config;
}

absl::StatusOr<CommandOutput> RunInit(const InitOptions& options) {
  if (options.out.empty()) return UsageError("--out must name a folder");
  const fs::path dir(options.out);
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> source_tokenizer =
      tokenizer::LoadTokenizer(options.tokenizer);
  if (!source_tokenizer.ok()) {
    return absl::Status(source_tokenizer.status().code(),
                        absl::StrCat("--tokenizer: ", source_tokenizer.status().message()));
  }
  absl::StatusOr<model::ModelConfig> config =
      InitConfig(options, (*source_tokenizer)->vocab_size());
  if (!config.ok()) return config.status();
  if (absl::Status status = CheckTokenizerSourceOutside(options.tokenizer, dir); !status.ok()) {
    return status;
  }

  if (absl::Status status = PrepareOutputFolder(dir, options.force); !status.ok()) return status;
  if (absl::Status status = SaveRandomModel(*config, options.seed, dir); !status.ok()) {
    return status;
  }
  if (absl::Status status = InstallTokenizerFiles(options.tokenizer, dir); !status.ok()) {
    return status;
  }
  // The folder must give back the tokenizer it was made from.
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> installed = LoadModelFolderTokenizer(dir);
  if (!installed.ok()) return installed.status();
  if ((*installed)->vocab_size() != (*source_tokenizer)->vocab_size() ||
      (*installed)->special_ids().bos != (*source_tokenizer)->special_ids().bos ||
      (*installed)->special_ids().eos != (*source_tokenizer)->special_ids().eos) {
    return absl::InternalError(absl::StrCat("the tokenizer written to ", dir.string(), " (",
                                            (*installed)->description(),
                                            ") differs from --tokenizer ", options.tokenizer, " (",
                                            (*source_tokenizer)->description(), ")"));
  }

  const std::vector<std::string> files = FolderFiles(dir);
  CommandOutput output;
  output.json = {
      {"folder", dir.string()},
      {"size", options.size},
      {"seed", options.seed},
      {"parameters", config->ParameterCount()},
      {"config", ConfigToJson(*config)},
      {"tokenizer", TokenizerToJson(**installed)},
      {"files", files},
  };
  output.text =
      absl::StrCat("created ", dir.string(), ": ", options.size, " model, ",
                   WithThousandsSeparators(config->ParameterCount()), " parameters (seed ",
                   options.seed, ")\n  tokenizer  ", TokenizerText(**installed), "\n  files      ",
                   absl::StrJoin(files, " "), "\n  config\n", ConfigText(*config, "    "));
  return output;
}

Subcommand AddInitCommand(CLI::App& parent) {
  auto options = std::make_shared<InitOptions>();
  CLI::App* app = parent.add_subcommand(
      "init",
      "Create a randomly initialised model folder (config.json, model.safetensors, "
      "tokenizer files)");
  app->add_option("--out", options->out, "Folder to create (must be empty or new)")
      ->required()
      ->type_name("DIR");
  app->add_option("--size", options->size, "Preset shape: tiny, 3m or 25m")->capture_default_str();
  app->add_option("--hidden", options->hidden, "hidden_size (overrides the preset)");
  app->add_option("--layers", options->layers, "num_hidden_layers");
  app->add_option("--heads", options->heads, "num_attention_heads (and kv heads unless given)");
  app->add_option("--kv-heads", options->kv_heads, "num_key_value_heads (grouped-query attention)");
  app->add_option("--intermediate", options->intermediate, "intermediate_size of the MLP");
  app->add_option("--context", options->context, "max_position_embeddings");
  app->add_flag("--tied", options->tied, "Tie the LM head to the embeddings");
  app->add_option("--tokenizer", options->tokenizer,
                  "byte, a tokenizer.json, or a folder with tokenizer.json or GPT-2's "
                  "encoder.json + vocab.bpe (copied into the model folder)")
      ->capture_default_str()
      ->type_name("byte|PATH");
  app->add_option("--seed", options->seed, "Seed of the random initialisation")
      ->capture_default_str();
  app->add_option("--reward-outputs", options->reward_outputs,
                  "Outputs of the reward head (0 = none)")
      ->capture_default_str();
  app->add_option("--reward-readout", options->reward_readout,
                  "What the reward head reads: the last token, or the mean over the response")
      ->capture_default_str()
      ->type_name("last_token|response_mean");
  app->add_flag("--force", options->force,
                "Write into a non-empty folder, replacing its model and tokenizer files");
  return {app, [options] { return RunInit(*options); }};
}

}  // namespace plumb::model_tool
