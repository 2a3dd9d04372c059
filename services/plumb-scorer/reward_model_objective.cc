#include "services/plumb-scorer/reward_model_objective.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/tokenizer/prompt_text.h"
#include "common/weights/versioned_model.h"
#include "services/plumb-scorer/objective.h"

namespace plumb::scorer {
namespace {

struct RewardBatch final : ScoringObjective::Batch {
  std::shared_ptr<weights::ModelSnapshot> snapshot;
  std::vector<std::vector<int64_t>> prompts;    // [N][P_i]
  std::vector<std::vector<int64_t>> responses;  // [N][R_i]
  uint64_t generation() const override { return snapshot->generation; }
};

class RewardModelObjective final : public ScoringObjective {
 public:
  RewardModelObjective(const ObjectiveOptions& objective, const RewardModelScorerOptions& options,
                       int max_batch_size, std::unique_ptr<tokenizer::Tokenizer> tokenizer,
                       std::unique_ptr<weights::VersionedModel> model)
      : ScoringObjective(objective),
        options_(options),
        max_batch_size_(max_batch_size),
        tokenizer_(std::move(tokenizer)),
        model_(std::move(model)) {}

  absl::StatusOr<std::unique_ptr<Batch>> Prepare(
      absl::Span<const ScoreInput> items) const override {
    auto batch = std::make_unique<RewardBatch>();
    batch->snapshot = model_->Current();
    const model::ModelConfig& config = model_->config();
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
    weights::ModelSnapshot& snapshot = *prepared.snapshot;
    absl::MutexLock lock(&snapshot.use_mu);
    torch::NoGradGuard no_grad;
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
        return Annotate(scored.status(), absl::StrCat("objective '", name(), "'"));
      }
      const at::Tensor rewards = snapshot.model->Rewards(scored->reward_hidden)
                                     .select(1, options_.output)
                                     .to(torch::kDouble)
                                     .cpu()
                                     .contiguous();  // [B]
      const double* values = rewards.data_ptr<double>();
      for (size_t k = start; k < end; ++k) {
        const double raw = values[k - start];
        by_position[order[k]] = options_.sigmoid ? 1.0 / (1.0 + std::exp(-raw)) : raw;
      }
    }
    std::vector<double> scores;
    scores.reserve(positions.size());
    for (size_t p : positions) scores.push_back(by_position.at(p));
    return scores;
  }

  ObjectiveDescription Describe() const override {
    const std::shared_ptr<weights::ModelSnapshot> snapshot = model_->Current();
    const model::ModelConfig& config = model_->config();
    ObjectiveDescription description = CommonDescription();
    description.description = absl::StrCat("reward head output ", options_.output,
                                           options_.sigmoid ? " through a sigmoid" : "",
                                           config.reward_readout == model::RewardReadout::kLastToken
                                               ? " at the last token of prompt + response"
                                               : " averaged over the response's tokens");
    description.model = ModelDescription{
        .weights_source = snapshot->source,
        .vocab_size = config.vocab_size,
        .context_length = config.max_position_embeddings,
        .parameter_count = config.ParameterCount(),
        .num_reward_outputs = config.num_reward_outputs,
        .architecture = config.Architecture(),
        .version = snapshot->version,
        .device = snapshot->model->embed_tokens().device().str(),
        .dtype = c10::toString(snapshot->model->embed_tokens().scalar_type()),
        .tokenizer = tokenizer_ == nullptr ? "" : tokenizer_->description(),
    };
    return description;
  }

  absl::StatusOr<weights::VersionedModel*> ModelForWeights() override { return model_.get(); }

 private:
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

  const RewardModelScorerOptions options_;
  const int max_batch_size_;
  const std::unique_ptr<tokenizer::Tokenizer> tokenizer_;  // null: ids-only items
  // Swapped whole by LoadWeights streams, as every model-holding service's model is.
  const std::unique_ptr<weights::VersionedModel> model_;
};

absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> LoadModelTokenizer(
    const ObjectiveOptions& objective, const RewardModelScorerOptions& options) {
  const bool explicit_tokenizer = !objective.tokenizer.empty();
  const std::string& where = explicit_tokenizer ? objective.tokenizer : options.path;
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded = tokenizer::LoadTokenizer(where);
  if (loaded.ok()) return loaded;
  if (!explicit_tokenizer && absl::IsNotFound(loaded.status())) {
    return std::unique_ptr<tokenizer::Tokenizer>();  // a folder without tokenizer files
  }
  return absl::Status(loaded.status().code(),
                      absl::StrCat("objective '", objective.name, "': tokenizer '", where,
                                   "': ", loaded.status().message()));
}

absl::Status ParseRewardModel(config::ConfigMap& m, absl::string_view base_dir,
                              RewardModelScorerOptions* o) {
  RETURN_IF_ERROR(RequireKey(m, "path", "path: models/rm_help"));
  RETURN_IF_ERROR(m.Read("path", &o->path));
  if (o->path.empty()) return m.Error("path", "must name a model folder");
  o->path = ResolveConfigPath(base_dir, o->path);
  RETURN_IF_ERROR(m.Read("output", &o->output, config::IntRange{0, 1 << 20}));
  RETURN_IF_ERROR(m.Read("sigmoid", &o->sigmoid));
  RETURN_IF_ERROR(m.Read("dtype", &o->dtype));
  RETURN_IF_ERROR(m.Read("device", &o->device));
  if (absl::Status placement = model::ParsePlacement(o->dtype, o->device).status();
      !placement.ok()) {
    return m.Error(m.Has("device") ? "device" : "dtype", placement.message());
  }
  return absl::OkStatus();
}

absl::Status ValidateRewardModel(const RewardModelScorerOptions& o) {
  if (o.path.empty()) return absl::InvalidArgumentError("path is empty");
  if (o.output < 0) return absl::InvalidArgumentError("output must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ScoringObjective>> CreateRewardModel(
    const ObjectiveOptions& objective, const RewardModelScorerOptions& options,
    int max_batch_size) {
  absl::StatusOr<model::ModelPlacement> placement =
      model::ParsePlacement(options.dtype, options.device);
  if (!placement.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("objective '", objective.name, "': ", placement.status().message()));
  }
  absl::StatusOr<std::unique_ptr<weights::VersionedModel>> loaded =
      weights::VersionedModel::Load(options.path, *placement, /*version=*/0);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(), absl::StrCat("objective '", objective.name,
                                                             "': ", loaded.status().message()));
  }
  // A swap replaces weights only, never the config: the reward head checked here stays.
  const int64_t outputs = (*loaded)->config().num_reward_outputs;
  if (options.output >= outputs) {
    return absl::InvalidArgumentError(
        absl::StrCat("objective '", objective.name, "': output ", options.output,
                     " needs a reward head with at least ", options.output + 1, " outputs, but ",
                     options.path, " has ", outputs, " (plumb_num_reward_outputs in config.json)"));
  }
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> tokenizer =
      LoadModelTokenizer(objective, options);
  if (!tokenizer.ok()) return tokenizer.status();
  return std::make_unique<RewardModelObjective>(objective, options, max_batch_size,
                                                *std::move(tokenizer), *std::move(loaded));
}

}  // namespace

std::shared_ptr<const ScoringObjectiveKind> RewardModelObjectiveKind() {
  static const auto* const kind =
      new std::shared_ptr<const ScoringObjectiveKind>(MakeObjectiveKind<RewardModelScorerOptions>({
          .name = "reward_model",
          .category = ObjectiveCategory::kRewardModel,
          .parse = ParseRewardModel,
          .validate = ValidateRewardModel,
          .create = CreateRewardModel,
      }));
  return *kind;
}

}  // namespace plumb::scorer
