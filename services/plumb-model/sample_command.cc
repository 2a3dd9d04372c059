#include "services/plumb-model/sample_command.h"

#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/plumb-model/id_list.h"
#include "services/plumb-model/terminal_text.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

// The raw flags; prompts become SampleOptions::prompts in command-line order after parsing.
struct SampleFlags {
  SampleOptions options;
  bool no_eos_stop = false;
  std::vector<std::string> prompt_texts;
  std::vector<std::string> prompt_id_lists;
  CLI::Option* prompt_text_option = nullptr;
  CLI::Option* prompt_ids_option = nullptr;
};

// Interleaves --prompt and --prompt-ids values as they appeared on the command line.
absl::Status CollectPrompts(const CLI::App& app, SampleFlags* flags) {
  size_t next_text = 0;
  size_t next_ids = 0;
  flags->options.prompts.clear();
  for (const CLI::Option* option : app.parse_order()) {
    if (option == flags->prompt_text_option && next_text < flags->prompt_texts.size()) {
      flags->options.prompts.push_back({.text = flags->prompt_texts[next_text++]});
    } else if (option == flags->prompt_ids_option && next_ids < flags->prompt_id_lists.size()) {
      absl::StatusOr<std::vector<int64_t>> ids =
          ParseIdList(flags->prompt_id_lists[next_ids++], "--prompt-ids");
      if (!ids.ok()) return ids.status();
      flags->options.prompts.push_back({.ids = *std::move(ids)});
    }
  }
  return absl::OkStatus();
}

const char* FinishReasonName(model::FinishReason reason) {
  return reason == model::FinishReason::kStop ? "stop" : "length";
}

// What people see of a token sequence: its quoted text, or its ids without a tokenizer.
std::string ShowTokens(const std::optional<std::string>& text, const std::vector<int64_t>& ids) {
  return text.has_value() ? QuoteForTerminal(*text) : absl::StrCat("ids ", FormatIdList(ids));
}

}  // namespace

absl::StatusOr<CommandOutput> RunSample(const SampleOptions& options) {
  if (options.prompts.empty()) {
    return UsageError("give at least one --prompt TEXT or --prompt-ids IDS");
  }
  absl::StatusOr<model::ModelConfig> config = ReadModelFolderConfig(options.model);
  if (!config.ok()) return config.status();
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded =
      LoadModelFolderTokenizer(options.model);
  const tokenizer::Tokenizer* tokenizer = loaded.ok() ? loaded->get() : nullptr;

  std::vector<std::vector<int64_t>> prompts;
  for (const TextOrIds& prompt : options.prompts) {
    absl::StatusOr<std::vector<int64_t>> ids =
        ToIds(prompt, tokenizer, loaded.status(), options.bos);
    if (!ids.ok()) return ids.status();
    if (ids->empty() && prompt.text.has_value()) {
      return UsageError(absl::StrCat("--prompt \"", *prompt.text,
                                     "\" has no tokens; give text, or add --bos to start from the "
                                     "bos token"));
    }
    prompts.push_back(*std::move(ids));
  }
  model::SamplingOptions sampling = options.sampling;
  if (options.eos_stop && tokenizer != nullptr && tokenizer->eos_id().has_value()) {
    const int64_t eos = *tokenizer->eos_id();
    if (std::find(sampling.stop_token_ids.begin(), sampling.stop_token_ids.end(), eos) ==
        sampling.stop_token_ids.end()) {
      sampling.stop_token_ids.push_back(eos);
    }
  }
  if (absl::Status status = model::ValidateSampling(*config, prompts, sampling); !status.ok()) {
    return AsUsageError(status);
  }
  absl::StatusOr<model::Transformer> model = LoadModelForInference(options.model, options.runtime);
  if (!model.ok()) return model.status();
  absl::StatusOr<std::vector<model::SampledSequence>> samples =
      model::Sample(**model, prompts, sampling);
  if (!samples.ok()) return samples.status();

  CommandOutput output;
  output.json = {
      {"model", options.model},
      {"seed", sampling.seed},
      {"temperature", sampling.temperature},
      {"top_k", sampling.top_k},
      {"top_p", sampling.top_p},
      {"max_new_tokens", sampling.max_new_tokens},
      {"stop_ids", sampling.stop_token_ids},
      {"prompts", nlohmann::ordered_json::array()},
      {"samples", nlohmann::ordered_json::array()},
  };
  std::vector<std::string> prompt_lines;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const std::optional<std::string> text =
        options.prompts[p].text.has_value()
            ? options.prompts[p].text
            : DecodeIds(tokenizer, prompts[p], /*skip_special=*/false);
    output.json["prompts"].push_back(
        {{"prompt_index", p}, {"text", JsonOrNull(text)}, {"ids", prompts[p]}});
    prompt_lines.push_back(absl::StrCat("prompt ", p, " (", prompts[p].size(),
                                        " tokens): ", ShowTokens(text, prompts[p]), "\n"));
  }
  for (const model::SampledSequence& sample : *samples) {
    const std::optional<std::string> text =
        DecodeIds(tokenizer, sample.tokens, /*skip_special=*/true);
    const double sum = std::accumulate(sample.logprobs.begin(), sample.logprobs.end(), 0.0);
    output.json["samples"].push_back({
        {"prompt_index", sample.prompt_index},
        {"sample_index", sample.sample_index},
        {"tokens", sample.tokens},
        {"text", JsonOrNull(text)},
        {"logprobs", sample.logprobs},
        {"logprob_sum", sum},
        {"finish_reason", FinishReasonName(sample.finish_reason)},
    });
    if (sample.sample_index == 0) absl::StrAppend(&output.text, prompt_lines[sample.prompt_index]);
    absl::StrAppend(&output.text, "  sample ", sample.sample_index, " (",
                    FinishReasonName(sample.finish_reason), ", ", sample.tokens.size(),
                    " tokens, logprob ", absl::StrFormat("%.4f", sum),
                    "): ", ShowTokens(text, sample.tokens), "\n");
  }
  return output;
}

Subcommand AddSampleCommand(CLI::App& parent) {
  auto flags = std::make_shared<SampleFlags>();
  SampleOptions& options = flags->options;
  model::SamplingOptions& sampling = options.sampling;
  CLI::App* app = parent.add_subcommand("sample", "Sample continuations of prompts from a model");
  app->add_option("--model", options.model, "Model folder")->required()->type_name("DIR");
  flags->prompt_text_option =
      app->add_option("--prompt", flags->prompt_texts, "A prompt as text (repeatable)")
          ->type_name("TEXT")
          ->allow_extra_args(false);
  flags->prompt_ids_option = app->add_option("--prompt-ids", flags->prompt_id_lists,
                                             "A prompt as token ids, e.g. 1,2,3 (repeatable)")
                                 ->type_name("IDS")
                                 ->allow_extra_args(false);
  app->add_flag("--bos", options.bos, "Put the tokenizer's bos token before text prompts");
  app->add_option("--temperature", sampling.temperature, "Divides the logits; 0 = greedy")
      ->capture_default_str();
  app->add_option("--top-k", sampling.top_k, "Keep the k most likely tokens (0 = all)")
      ->capture_default_str();
  app->add_option("--top-p", sampling.top_p, "Nucleus sampling mass in (0, 1]")
      ->capture_default_str();
  app->add_option("--max-new-tokens", sampling.max_new_tokens, "Tokens per sample at most")
      ->capture_default_str();
  app->add_option("--num-samples", sampling.num_samples, "Samples per prompt")
      ->capture_default_str();
  app->add_option("--seed", sampling.seed, "Sampling seed")->capture_default_str();
  app->add_option("--stop-id", sampling.stop_token_ids,
                  "A token id that ends a sample (repeatable)")
      ->type_name("ID")
      ->allow_extra_args(false);
  app->add_flag("--no-eos-stop", flags->no_eos_stop,
                "Do not stop at the tokenizer's eos token (it stops by default)");
  AddRuntimeFlags(*app, &options.runtime);
  return {app, [flags, app]() -> absl::StatusOr<CommandOutput> {
            if (absl::Status status = CollectPrompts(*app, flags.get()); !status.ok()) {
              return status;
            }
            flags->options.eos_stop = !flags->no_eos_stop;
            return RunSample(flags->options);
          }};
}

}  // namespace plumb::model_tool
