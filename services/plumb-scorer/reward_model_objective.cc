#include "services/plumb-scorer/reward_model_objective.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/tokenizer/prompt_text.h"

namespace plumb::scorer {
namespace {

// One set of weights. Immutable once published, except that forward passes take forward_mu.
struct ModelSnapshot {
  model::Transformer model{nullptr};
  uint64_t version = 0;
  uint64_t generation = 0;  // unique per swap, so the cache never mixes weights
  std::string weights_source;
  std::string device;
  std::string dtype;
  absl::Mutex forward_mu;
};

struct RewardBatch final : Objective::Batch {
  std::shared_ptr<ModelSnapshot> snapshot;
  std::vector<std::vector<int64_t>> prompts;    // [N][P_i]
  std::vector<std::vector<int64_t>> responses;  // [N][R_i]
  uint64_t generation() const override { return snapshot->generation; }
};

class RewardModelObjective final : public Objective {
 public:
  RewardModelObjective(const ObjectiveOptions& options, int max_batch_size,
                       std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                       std::shared_ptr<ModelSnapshot> snapshot)
      : Objective(options.name),
        options_(options),
        max_batch_size_(max_batch_size),
        tokenizer_(std::move(tokenizer)),
        snapshot_(std::move(snapshot)) {}

  absl::StatusOr<std::unique_ptr<Batch>> Prepare(
      absl::Span<const ScoreInput> items) const override {
    auto batch = std::make_unique<RewardBatch>();
    batch->snapshot = Current();
    const model::ModelConfig& config = batch->snapshot->model->config();
    for (size_t i = 0; i < items.size(); ++i) {
      const ScoreInput& item = items[i];
      absl::StatusOr<std::vector<int64_t>> prompt =
          ToIds(item.prompt_ids, item.prompt_text, "prompt", i, config);
      if (!prompt.ok()) return prompt.status();
      absl::StatusOr<std::vector<int64_t>> response =
          ToIds(item.response_ids, item.response_text, "response", i, config);
      if (!response.ok()) return response.status();
      const int64_t total = static_cast<int64_t>(prompt->size() + response->size());
      if (total > config.max_position_embeddings) {
        return absl::InvalidArgumentError(
            absl::StrCat("items[", i, "]: ", prompt->size(), " prompt + ", response->size(),
                         " response tokens exceed the context of ", config.max_position_embeddings,
                         " positions of objective '", name(), "' (the scorer never truncates)"));
      }
      batch->prompts.push_back(*std::move(prompt));
      batch->responses.push_back(*std::move(response));
    }
    return batch;
  }

  absl::StatusOr<std::vector<double>> Run(const Batch& batch,
                                          absl::Span<const size_t> positions) const override {
    const auto& prepared = static_cast<const RewardBatch&>(batch);
    // Longest first, so each forward pass pads little.
    std::vector<size_t> order(positions.begin(), positions.end());
    auto length = [&](size_t p) {
      return prepared.prompts[p].size() + prepared.responses[p].size();
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return length(a) > length(b); });
    std::map<size_t, double> by_position;
    ModelSnapshot& snapshot = *prepared.snapshot;
    absl::MutexLock lock(&snapshot.forward_mu);
    torch::NoGradGuard no_grad;
    try {
      for (size_t start = 0; start < order.size(); start += max_batch_size_) {
        const size_t end = std::min(order.size(), start + static_cast<size_t>(max_batch_size_));
        std::vector<std::vector<int64_t>> prompts, responses;
        for (size_t k = start; k < end; ++k) {
          prompts.push_back(prepared.prompts[order[k]]);
          responses.push_back(prepared.responses[order[k]]);
        }
        absl::StatusOr<model::ResponseScores> scored =
            model::ScoreResponses(*snapshot.model, prompts, responses);
        if (!scored.ok()) {
          return absl::InternalError(
              absl::StrCat("objective '", name(), "': ", scored.status().message()));
        }
        const at::Tensor rewards = snapshot.model->Rewards(scored->last_hidden)
                                       .select(1, options_.reward_model.output)
                                       .to(torch::kDouble)
                                       .cpu()
                                       .contiguous();  // [B]
        const double* values = rewards.data_ptr<double>();
        for (size_t k = start; k < end; ++k) {
          const double raw = values[k - start];
          by_position[order[k]] =
              options_.reward_model.sigmoid ? 1.0 / (1.0 + std::exp(-raw)) : raw;
        }
      }
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat(
          "objective '", name(), "': forward pass failed: ", e.what_without_backtrace()));
    }
    std::vector<double> scores;
    scores.reserve(positions.size());
    for (size_t p : positions) scores.push_back(by_position.at(p));
    return scores;
  }

  ObjectiveDescription Describe() const override {
    const std::shared_ptr<ModelSnapshot> snapshot = Current();
    const model::ModelConfig& config = snapshot->model->config();
    return ObjectiveDescription{
        .name = name(),
        .kind = ObjectiveKind::kRewardModel,
        .description = absl::StrCat("reward head output ", options_.reward_model.output,
                                    options_.reward_model.sigmoid ? " through a sigmoid" : "",
                                    " at the last token of prompt + response"),
        .model =
            ModelDescription{
                .weights_source = snapshot->weights_source,
                .vocab_size = config.vocab_size,
                .context_length = config.max_position_embeddings,
                .parameter_count = config.ParameterCount(),
                .num_reward_outputs = config.num_reward_outputs,
                .version = snapshot->version,
                .device = snapshot->device,
                .dtype = snapshot->dtype,
                .tokenizer = tokenizer_ == nullptr ? "" : tokenizer_->description(),
            },
        .mean = options_.mean,
        .stddev = options_.stddev,
    };
  }

  absl::Status ReplaceModel(model::Transformer new_model, uint64_t version,
                            const std::string& weights_source) override {
    if (new_model.is_empty()) {
      return absl::InvalidArgumentError(absl::StrCat("objective '", name(), "': no model given"));
    }
    const int64_t vocab = Current()->model->config().vocab_size;
    if (new_model->config().vocab_size != vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("objective '", name(), "': the new model's vocab_size ",
                       new_model->config().vocab_size, " differs from the current ", vocab,
                       " (the objective's tokenizer and token-id checks depend on it)"));
    }
    absl::StatusOr<std::shared_ptr<ModelSnapshot>> snapshot =
        MakeSnapshot(options_, std::move(new_model), version, weights_source);
    if (!snapshot.ok()) return snapshot.status();
    absl::MutexLock lock(&mu_);
    (*snapshot)->generation = ++last_generation_;
    snapshot_ = *std::move(snapshot);
    return absl::OkStatus();
  }

  static absl::StatusOr<std::shared_ptr<ModelSnapshot>> MakeSnapshot(
      const ObjectiveOptions& options, model::Transformer model, uint64_t version,
      const std::string& weights_source) {
    const int64_t outputs = model->config().num_reward_outputs;
    if (options.reward_model.output >= outputs) {
      return absl::InvalidArgumentError(absl::StrCat(
          "objective '", options.name, "': output ", options.reward_model.output,
          " needs a reward head with at least ", options.reward_model.output + 1, " outputs, but ",
          weights_source, " has ", outputs, " (plumb_num_reward_outputs in config.json)"));
    }
    model->eval();
    auto snapshot = std::make_shared<ModelSnapshot>();
    snapshot->device = model->embed_tokens().device().str();
    snapshot->dtype = c10::toString(model->embed_tokens().scalar_type());
    snapshot->model = std::move(model);
    snapshot->version = version;
    snapshot->weights_source = weights_source;
    return snapshot;
  }

 private:
  std::shared_ptr<ModelSnapshot> Current() const {
    absl::MutexLock lock(&mu_);
    return snapshot_;
  }

  absl::StatusOr<std::vector<int64_t>> ToIds(absl::Span<const int32_t> given,
                                             const std::string& text, absl::string_view part,
                                             size_t item, const model::ModelConfig& config) const {
    const int64_t vocab = config.vocab_size;
    std::vector<int32_t> encoded;
    absl::string_view field = "token_ids";
    if (given.empty()) {
      if (text.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("items[", item, "].", part, ": objective '",
                                                       name(), "' needs a non-empty ", part,
                                                       " (text or token ids)"));
      }
      if (tokenizer_ == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "items[", item, "].", part, ": objective '", name(),
            "' reads token ids, but the item has text only and the objective has no tokenizer "
            "(set its `tokenizer`, or send token ids)"));
      }
      // The common rule for text (common.proto Prompt.text): BOS before a prompt, none before a
      // response; the size is bounded before tokenizing.
      const int64_t max_bytes = tokenizer::MaxPromptTextBytes(config.max_position_embeddings);
      const std::string what = absl::StrCat("items[", item, "].", part, ".text");
      ASSIGN_OR_RETURN(std::vector<int64_t> text_ids,
                       part == "prompt"
                           ? tokenizer::EncodePromptText(*tokenizer_, text, max_bytes, what)
                           : tokenizer::EncodeResponseText(*tokenizer_, text, max_bytes, what));
      encoded.assign(text_ids.begin(), text_ids.end());
      given = encoded;
      field = "text";
    }
    std::vector<int64_t> ids(given.begin(), given.end());
    for (size_t t = 0; t < ids.size(); ++t) {
      if (ids[t] < 0 || ids[t] >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat(
            "items[", item, "].", part, ".", field, "[", t, "]: token id ", ids[t],
            " is outside the vocabulary [0, ", vocab, ") of objective '", name(), "'"));
      }
    }
    return ids;
  }

  const ObjectiveOptions options_;
  const int max_batch_size_;
  const std::unique_ptr<tokenizer::Tokenizer> tokenizer_;  // null: ids-only items
  mutable absl::Mutex mu_;
  std::shared_ptr<ModelSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  uint64_t last_generation_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> LoadModelTokenizer(
    const ObjectiveOptions& options) {
  const bool explicit_tokenizer = !options.tokenizer.empty();
  const std::string& where = explicit_tokenizer ? options.tokenizer : options.reward_model.path;
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded = tokenizer::LoadTokenizer(where);
  if (loaded.ok()) return loaded;
  if (!explicit_tokenizer && absl::IsNotFound(loaded.status())) {
    return std::unique_ptr<tokenizer::Tokenizer>();  // a folder without tokenizer files
  }
  return absl::Status(loaded.status().code(),
                      absl::StrCat("objective '", options.name, "': tokenizer '", where,
                                   "': ", loaded.status().message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Objective>> CreateRewardModelObjective(
    const ObjectiveOptions& options, int max_batch_size) {
  absl::StatusOr<model::ModelPlacement> placement =
      model::ParsePlacement(options.reward_model.dtype, options.reward_model.device);
  if (!placement.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("objective '", options.name, "': ", placement.status().message()));
  }
  absl::StatusOr<model::Transformer> loaded =
      model::LoadHfModel(options.reward_model.path, *placement);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(), absl::StrCat("objective '", options.name,
                                                             "': ", loaded.status().message()));
  }
  absl::StatusOr<std::shared_ptr<ModelSnapshot>> snapshot = RewardModelObjective::MakeSnapshot(
      options, *std::move(loaded), /*version=*/0, options.reward_model.path);
  if (!snapshot.ok()) return snapshot.status();
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tokenizer = LoadModelTokenizer(options);
  if (!tokenizer.ok()) return tokenizer.status();
  return std::make_unique<RewardModelObjective>(options, max_batch_size, *std::move(tokenizer),
                                                *std::move(snapshot));
}

}  // namespace plumb::scorer
