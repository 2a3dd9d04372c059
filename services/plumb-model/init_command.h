// `plumb-model init`: a randomly initialised model saved as a Hugging Face folder
// (config.json, model.safetensors, tokenizer files). vocab_size comes from the tokenizer.
//
// Thread safety: runs on main()'s thread; seeds LibTorch's global generator.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_INIT_COMMAND_H_
#define PLUMB_SERVICES_PLUMB_MODEL_INIT_COMMAND_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/model/model_config.h"
#include "services/plumb-model/subcommand.h"

namespace plumb::model_tool {

struct InitOptions {
  std::string out;
  std::string size = "tiny";  // a preset of PresetConfig
  // Overrides of the preset. --heads without --kv-heads means full multi-head attention.
  std::optional<int64_t> hidden, layers, heads, kv_heads, intermediate, context;
  bool tied = false;
  std::string tokenizer = "byte";  // "byte", a tokenizer.json, or a tokenizer folder
  uint64_t seed = 0;
  int64_t reward_outputs = 0;
  std::string reward_readout = "last_token";  // model::RewardReadoutName's names
  bool force = false;                         // replace the model files of a non-empty --out
};

// "tiny" (125k parameters with the byte tokenizer: tests), "3m" and "25m" (about 3 and 25
// million: experiments on a CPU). A usage error names the presets for anything else.
absl::StatusOr<model::ModelConfig> PresetConfig(absl::string_view size);

// The preset with the overrides and `vocab_size` applied; a usage error when it is not valid.
absl::StatusOr<model::ModelConfig> InitConfig(const InitOptions& options, int64_t vocab_size);

absl::StatusOr<CommandOutput> RunInit(const InitOptions& options);

Subcommand AddInitCommand(CLI::App& parent);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_INIT_COMMAND_H_
