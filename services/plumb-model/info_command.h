// `plumb-model info DIR`: what a model folder holds, read from config.json, the safetensors
// headers (no weights are loaded, so it is fast for any size) and the tokenizer files.
//
// "parameters" counts the network's tensors in the checkpoint (embeddings, layers, final norm,
// LM head), which is what ModelConfig::ParameterCount() predicts; the value and reward heads
// are counted apart. A mismatch is reported as a warning.
//
// Thread safety: runs on the caller's thread.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_INFO_COMMAND_H_
#define PLUMB_SERVICES_PLUMB_MODEL_INFO_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "services/plumb-model/subcommand.h"

namespace plumb::model_tool {

struct InfoOptions {
  std::string dir;
};

absl::StatusOr<CommandOutput> RunInfo(const InfoOptions& options);

Subcommand AddInfoCommand(CLI::App& parent);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_INFO_COMMAND_H_
