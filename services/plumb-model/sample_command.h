// `plumb-model sample`: continuations of prompts from a model folder, with the sampler's
// seeded, batch-independent randomness (the same seed and prompt give the same samples).
//
// Prompts are text (encoded with the folder's tokenizer) or token ids, in command-line order.
// The tokenizer's eos id stops a sample unless eos_stop is false. Sample texts are decoded
// without special tokens; the ids are exact.
//
// Thread safety: runs on the caller's thread, which owns the model while it runs.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_SAMPLE_COMMAND_H_
#define PLUMB_SERVICES_PLUMB_MODEL_SAMPLE_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/sampler.h"
#include "services/plumb-model/model_folder.h"
#include "services/plumb-model/subcommand.h"
#include "services/plumb-model/token_text.h"

namespace plumb::model_tool {

struct SampleOptions {
  std::string model;
  std::vector<TextOrIds> prompts;
  bool bos = false;                 // put the tokenizer's bos before text prompts
  model::SamplingOptions sampling;  // stop_token_ids: the --stop-id values
  bool eos_stop = true;
  RuntimeOptions runtime;
};

absl::StatusOr<CommandOutput> RunSample(const SampleOptions& options);

Subcommand AddSampleCommand(CLI::App& parent);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_SAMPLE_COMMAND_H_
