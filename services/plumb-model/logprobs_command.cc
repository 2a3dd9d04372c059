#include "services/plumb-model/logprobs_command.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/model/logprobs.h"
#include "services/plumb-model/id_list.h"
#include "services/plumb-model/terminal_text.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

// The raw flags; each side must be given once, as text or as ids.
struct LogprobsFlags {
  LogprobsOptions options;
  std::optional<std::string> prompt_text, prompt_ids, response_text, response_ids;
};

absl::StatusOr<TextOrIds> OneOf(const std::optional<std::string>& text,
                                const std::optional<std::string>& ids, absl::string_view side) {
  if (text.has_value() == ids.has_value()) {
    return UsageError(
        absl::StrCat("give exactly one of --", side, " TEXT and --", side, "-ids IDS"));
  }
  if (text.has_value()) return TextOrIds{.text = *text};
  absl::StatusOr<std::vector<int64_t>> parsed = ParseIdList(*ids, absl::StrCat("--", side, "-ids"));
  if (!parsed.ok()) return parsed.status();
  return TextOrIds{.ids = *std::move(parsed)};
}

// Log-probs of `response` after `prompt`, one per response token.
absl::StatusOr<std::vector<float>> Score(model::TransformerImpl& model,
                                         const std::vector<int64_t>& prompt,
                                         const std::vector<int64_t>& response, double temperature) {
  torch::NoGradGuard no_grad;
  absl::StatusOr<model::ResponseScores> scores =
      model::ScoreResponses(model, {prompt}, {response}, temperature);
  if (!scores.ok()) return AsUsageError(scores.status());  // only validation fails here
  const at::Tensor row = scores->logprobs[0].to(torch::kCPU).to(torch::kFloat).contiguous();
  const float* data = row.data_ptr<float>();
  return std::vector<float>(data, data + response.size());
}

}  // namespace

absl::StatusOr<CommandOutput> RunLogprobs(const LogprobsOptions& options) {
  absl::StatusOr<model::ModelConfig> config = ReadModelFolderConfig(options.model);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded =
      LoadModelFolderTokenizer(options.model);
  const tokenizer::Tokenizer* tokenizer = loaded.ok() ? loaded->get() : nullptr;
  absl::StatusOr<std::vector<int64_t>> prompt =
      ToIds(options.prompt, tokenizer, loaded.status(), options.bos);
  if (!prompt.ok()) return prompt.status();
  absl::StatusOr<std::vector<int64_t>> response =
      ToIds(options.response, tokenizer, loaded.status(), /*add_bos=*/false);
  if (!response.ok()) return response.status();
  if (absl::Status status = model::ValidateSequences(*config, {*prompt}, {*response});
      !status.ok()) {
    return AsUsageError(status);
  }
  if (!(options.temperature > 0)) {
    return UsageError(absl::StrCat("temperature must be > 0, got ", options.temperature));
  }
  absl::StatusOr<model::Transformer> model = LoadModelForInference(options.model, options.runtime);
  if (!model.ok()) return model.status();
  absl::StatusOr<std::vector<float>> logprobs =
      Score(**model, *prompt, *response, options.temperature);
  if (!logprobs.ok()) return logprobs.status();

  double sum = 0;
  std::vector<nlohmann::ordered_json> texts;
  CommandOutput output;
  output.text = absl::StrCat("prompt (", prompt->size(), " tokens): ",
                             QuoteForTerminal(DecodeIds(tokenizer, *prompt, false).value_or("?")),
                             "\n  token  logprob   text\n");
  for (size_t t = 0; t < response->size(); ++t) {
    sum += (*logprobs)[t];
    const std::optional<std::string> text =
        DecodeIds(tokenizer, {(*response)[t]}, /*skip_special=*/false);
    texts.push_back(JsonOrNull(text));
    absl::StrAppend(&output.text, absl::StrFormat("  %5d  %8.4f  ", (*response)[t], (*logprobs)[t]),
                    text.has_value() ? QuoteForTerminal(*text) : "?", "\n");
  }
  absl::StrAppend(&output.text,
                  absl::StrFormat("sum %.4f over %d tokens\n", sum, response->size()));
  output.json = {
      {"model", options.model},
      {"temperature", options.temperature},
      {"prompt_ids", *prompt},
      {"tokens", *response},
      {"texts", texts},
      {"logprobs", *logprobs},
      {"sum", sum},
  };
  return output;
}

Subcommand AddLogprobsCommand(CLI::App& parent) {
  auto flags = std::make_shared<LogprobsFlags>();
  LogprobsOptions& options = flags->options;
  CLI::App* app = parent.add_subcommand(
      "logprobs", "Per-token log-probs of a response given a prompt, and their sum");
  app->add_option("--model", options.model, "Model folder")->required()->type_name("DIR");
  app->add_option("--prompt", flags->prompt_text, "The prompt as text")->type_name("TEXT");
  app->add_option("--prompt-ids", flags->prompt_ids, "The prompt as token ids, e.g. 1,2,3")
      ->type_name("IDS");
  app->add_option("--response", flags->response_text, "The response as text")->type_name("TEXT");
  app->add_option("--response-ids", flags->response_ids, "The response as token ids")
      ->type_name("IDS");
  app->add_flag("--bos", options.bos, "Put the tokenizer's bos token before a text prompt");
  app->add_option("--temperature", options.temperature,
                  "Divide the logits by this first (the sampling temperature)")
      ->capture_default_str();
  AddRuntimeFlags(*app, &options.runtime);
  return {app, [flags]() -> absl::StatusOr<CommandOutput> {
            absl::StatusOr<TextOrIds> prompt =
                OneOf(flags->prompt_text, flags->prompt_ids, "prompt");
            if (!prompt.ok()) return prompt.status();
            absl::StatusOr<TextOrIds> response =
                OneOf(flags->response_text, flags->response_ids, "response");
            if (!response.ok()) return response.status();
            flags->options.prompt = *std::move(prompt);
            flags->options.response = *std::move(response);
            return RunLogprobs(flags->options);
          }};
}

}  // namespace plumb::model_tool
