// `plumb-model logprobs`: teacher-forced per-token log-probs of a response given a prompt
// (log-softmax of logits / temperature, as ScoreResponses computes them), and their sum.
//
// Each side is text (encoded with the folder's tokenizer) or token ids. With the default
// temperature 1 the numbers equal those `sample` reports for the same tokens.
//
// Thread safety: runs on the caller's thread, which owns the model while it runs.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_LOGPROBS_COMMAND_H_
#define PLUMB_SERVICES_PLUMB_MODEL_LOGPROBS_COMMAND_H_

#include <string>

#include "absl/status/statusor.h"
#include "services/plumb-model/model_folder.h"
#include "services/plumb-model/subcommand.h"
#include "services/plumb-model/token_text.h"

namespace plumb::model_tool {

struct LogprobsOptions {
  std::string model;
  TextOrIds prompt;
  TextOrIds response;
  bool bos = false;  // put the tokenizer's bos before a text prompt
  double temperature = 1.0;
  RuntimeOptions runtime;
};

absl::StatusOr<CommandOutput> RunLogprobs(const LogprobsOptions& options);

Subcommand AddLogprobsCommand(CLI::App& parent);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_LOGPROBS_COMMAND_H_
