#include "services/plumb-scorer/lm_judge_objective.h"

#include <torch/torch.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/tokenizer/prompt_text.h"
#include "common/weights/versioned_model.h"
#include "services/plumb-scorer/judge_template.h"
#include "services/plumb-scorer/objective.h"
#include "services/plumb-scorer/text_objective.h"

namespace plumb::scorer {
namespace {

using Ids = std::vector<int64_t>;

struct JudgeBatch final : ScoringObjective::Batch {
  std::shared_ptr<weights::ModelSnapshot> snapshot;
  std::vector<Ids> prompts;  // rendered rating prompts, encoded
  uint64_t generation() const override { return snapshot->generation; }
};

size_t Longest(const std::vector<Ids>& labels) {
  size_t longest = 0;
  for (const Ids& label : labels) longest = std::max(longest, label.size());
  return longest;
}

class LmJudgeObjective final : public ScoringObjective, public PairwiseJudge {
 public:
  LmJudgeObjective(const ObjectiveOptions& objective, LmJudgeOptions options, int max_batch_size,
                   JudgeTemplate judge_template,
                   std::unique_ptr<tokenizer::Tokenizer> item_tokenizer,
                   std::unique_ptr<tokenizer::Tokenizer> judge_tokenizer,
                   std::unique_ptr<weights::VersionedModel> model, std::vector<Ids> labels,
                   std::vector<Ids> rating_labels, std::string rating_principle)
      : ScoringObjective(objective),
        options_(std::move(options)),
        max_batch_size_(max_batch_size),
        template_(std::move(judge_template)),
        item_tokenizer_(std::move(item_tokenizer)),
        judge_tokenizer_(std::move(judge_tokenizer)),
        model_(std::move(model)),
        labels_(std::move(labels)),
        rating_labels_(std::move(rating_labels)),
        rating_principle_(std::move(rating_principle)) {}

  absl::StatusOr<std::unique_ptr<Batch>> Prepare(
      absl::Span<const ScoreInput> items) const override {
    auto batch = std::make_unique<JudgeBatch>();
    batch->snapshot = model_->Current();
    for (size_t i = 0; i < items.size(); ++i) {
      const ScoreInput& item = items[i];
      const std::string where = absl::StrCat("items[", i, "]");
      ASSIGN_OR_RETURN(std::string context,
                       ItemText(item_tokenizer_.get(), name(), item.prompt_text, false,
                                item.prompt_ids, absl::StrCat(where, ".prompt")));
      ASSIGN_OR_RETURN(
          std::string response,
          ItemText(item_tokenizer_.get(), name(), item.response_text, item.response_text_given,
                   item.response_ids, absl::StrCat(where, ".response")));
      ASSIGN_OR_RETURN(Ids ids,
                       Encode(RenderRating(template_, rating_principle_, context, response),
                              Longest(rating_labels_), where));
      batch->prompts.push_back(std::move(ids));
    }
    return batch;
  }

  absl::StatusOr<std::vector<double>> Run(const Batch& batch,
                                          absl::Span<const size_t> positions) const override {
    const auto& prepared = static_cast<const JudgeBatch&>(batch);
    std::vector<Ids> prompts;
    prompts.reserve(positions.size());
    for (size_t p : positions) prompts.push_back(prepared.prompts.at(p));
    ASSIGN_OR_RETURN(std::vector<std::vector<double>> logps,
                     LabelLogProbs(*prepared.snapshot, prompts, rating_labels_));
    std::vector<double> scores;
    scores.reserve(logps.size());
    for (const std::vector<double>& row : logps) scores.push_back(RatingFromLabelLogProbs(row));
    return scores;
  }

  absl::StatusOr<JudgeVerdicts> Compare(absl::Span<const ScoreInput> firsts,
                                        absl::Span<const ScoreInput> seconds,
                                        const std::string& principle) const override {
    if (firsts.size() != seconds.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(firsts.size(), " first responses but ", seconds.size(), " second ones"));
    }
    JudgeVerdicts verdicts;
    ASSIGN_OR_RETURN(verdicts.principle, ResolvePrinciple(template_, principle));
    const std::shared_ptr<weights::ModelSnapshot> snapshot = model_->Current();
    const size_t orders = template_.position_debias ? 2 : 1;
    std::vector<Ids> prompts;
    prompts.reserve(firsts.size() * orders);
    for (size_t i = 0; i < firsts.size(); ++i) {
      const std::string where = absl::StrCat("pairs[", i, "]");
      ASSIGN_OR_RETURN(std::string context,
                       ItemText(item_tokenizer_.get(), name(), firsts[i].prompt_text, false,
                                firsts[i].prompt_ids, absl::StrCat(where, ".prompt")));
      ASSIGN_OR_RETURN(std::string first,
                       ItemText(item_tokenizer_.get(), name(), firsts[i].response_text,
                                firsts[i].response_text_given, firsts[i].response_ids,
                                absl::StrCat(where, ".first")));
      ASSIGN_OR_RETURN(std::string second,
                       ItemText(item_tokenizer_.get(), name(), seconds[i].response_text,
                                seconds[i].response_text_given, seconds[i].response_ids,
                                absl::StrCat(where, ".second")));
      const size_t longest = Longest(labels_);
      ASSIGN_OR_RETURN(Ids shown_first, Encode(RenderComparison(template_, verdicts.principle,
                                                                context, first, second),
                                               longest, where));
      prompts.push_back(std::move(shown_first));
      if (orders == 2) {
        ASSIGN_OR_RETURN(Ids shown_second, Encode(RenderComparison(template_, verdicts.principle,
                                                                   context, second, first),
                                                  longest, where));
        prompts.push_back(std::move(shown_second));
      }
    }
    ASSIGN_OR_RETURN(std::vector<std::vector<double>> logps,
                     LabelLogProbs(*snapshot, prompts, labels_));
    for (size_t i = 0; i < firsts.size(); ++i) {
      const std::vector<double>& shown_first = logps[i * orders];
      const double p = PreferenceFromLabelLogProbs(shown_first[0], shown_first[1]);
      if (orders == 1) {
        verdicts.p_first.push_back(p);
      } else {
        const std::vector<double>& shown_second = logps[i * orders + 1];
        verdicts.p_first.push_back(
            DebiasedPreference(p, PreferenceFromLabelLogProbs(shown_second[0], shown_second[1])));
      }
    }
    return verdicts;
  }

  JudgeDescription DescribeJudge() const override {
    JudgeDescription d;
    d.preamble = template_.preamble;
    d.few_shot_examples = static_cast<int>(template_.few_shot.size());
    for (const JudgePrinciple& p : template_.principles) d.principles.emplace_back(p.name, p.text);
    absl::StatusOr<std::string> resolved = ResolvePrinciple(template_, "");
    d.default_principle = resolved.ok() ? *resolved : "";
    d.position_debiased = template_.position_debias;
    return d;
  }

  const PairwiseJudge* judge() const override { return this; }

  ObjectiveDescription Describe() const override {
    const std::shared_ptr<weights::ModelSnapshot> snapshot = model_->Current();
    const model::ModelConfig& config = model_->config();
    ObjectiveDescription description = CommonDescription();
    description.description = absl::StrCat(
        "LM judge (", options_.template_path, "): the expected rating over ", rating_labels_.size(),
        " labels, in [0, 1]; compares pairs from P(", template_.labels[0], ") vs P(",
        template_.labels[1], ")", template_.position_debias ? " averaged over both orders" : "");
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
        .tokenizer = judge_tokenizer_->description(),
    };
    return description;
  }

  absl::StatusOr<weights::VersionedModel*> ModelForWeights() override { return model_.get(); }

 private:
  // The rendered prompt's ids under the judge's tokenizer, refused when it and the longest label
  // do not fit the judge's context.
  absl::StatusOr<Ids> Encode(const std::string& text, size_t longest_label,
                             absl::string_view where) const {
    const int64_t context = model_->config().max_position_embeddings;
    ASSIGN_OR_RETURN(Ids ids, tokenizer::EncodePromptText(
                                  *judge_tokenizer_, text, tokenizer::MaxPromptTextBytes(context),
                                  absl::StrCat(where, ": the judge's prompt")));
    if (static_cast<int64_t>(ids.size() + longest_label) > context) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": the judge's prompt is ", ids.size(), " tokens and its longest label ",
          longest_label, ", more than the ", context, " positions of judge '", name(),
          "' (the judge never truncates; shorten the sample, the preamble or the few-shot "
          "examples)"));
    }
    return ids;
  }

  // log P(label | prompt) for every prompt and label: [prompts][labels].
  absl::StatusOr<std::vector<std::vector<double>>> LabelLogProbs(
      weights::ModelSnapshot& snapshot, const std::vector<Ids>& prompts,
      const std::vector<Ids>& labels) const {
    std::vector<std::vector<double>> out(prompts.size(), std::vector<double>(labels.size()));
    const size_t rows = prompts.size() * labels.size();
    absl::MutexLock lock(&snapshot.use_mu);
    torch::NoGradGuard no_grad;
    for (size_t start = 0; start < rows; start += max_batch_size_) {
      const size_t end = std::min(rows, start + static_cast<size_t>(max_batch_size_));
      std::vector<Ids> batch_prompts, batch_labels;
      for (size_t r = start; r < end; ++r) {
        batch_prompts.push_back(prompts[r / labels.size()]);
        batch_labels.push_back(labels[r % labels.size()]);
      }
      absl::StatusOr<model::ResponseScores> scored =
          model::ScoreResponses(*snapshot.model, batch_prompts, batch_labels);
      if (!scored.ok()) return Annotate(scored.status(), absl::StrCat("judge '", name(), "'"));
      const at::Tensor sums =
          (scored->logprobs * scored->mask).sum(1).to(torch::kDouble).cpu().contiguous();
      const double* values = sums.data_ptr<double>();
      for (size_t r = start; r < end; ++r) {
        out[r / labels.size()][r % labels.size()] = values[r - start];
      }
    }
    return out;
  }

  const LmJudgeOptions options_;
  const int max_batch_size_;
  const JudgeTemplate template_;
  const std::unique_ptr<tokenizer::Tokenizer> item_tokenizer_;   // null: text-only items
  const std::unique_ptr<tokenizer::Tokenizer> judge_tokenizer_;  // never null
  const std::unique_ptr<weights::VersionedModel> model_;
  const std::vector<Ids> labels_;         // A, B
  const std::vector<Ids> rating_labels_;  // 1..K
  const std::string rating_principle_;
};

absl::Status ParseLmJudge(config::ConfigMap& m, absl::string_view base_dir, LmJudgeOptions* o) {
  RETURN_IF_ERROR(RequireKey(m, "path", "path: models/judge"));
  RETURN_IF_ERROR(RequireKey(m, "template", "template: judges/helpful.yaml"));
  RETURN_IF_ERROR(m.Read("path", &o->path));
  RETURN_IF_ERROR(m.Read("template", &o->template_path));
  RETURN_IF_ERROR(m.Read("constitution", &o->constitution));
  RETURN_IF_ERROR(m.Read("judge_tokenizer", &o->judge_tokenizer));
  RETURN_IF_ERROR(m.Read("principle", &o->principle));
  RETURN_IF_ERROR(m.Read("dtype", &o->dtype));
  RETURN_IF_ERROR(m.Read("device", &o->device));
  if (o->path.empty()) return m.Error("path", "must name the judge's model folder");
  if (o->template_path.empty()) return m.Error("template", "must name a template file");
  o->path = ResolveConfigPath(base_dir, o->path);
  o->template_path = ResolveConfigPath(base_dir, o->template_path);
  o->constitution = ResolveConfigPath(base_dir, o->constitution);
  o->judge_tokenizer = ResolveConfigPath(base_dir, o->judge_tokenizer);
  if (absl::Status placement = model::ParsePlacement(o->dtype, o->device).status();
      !placement.ok()) {
    return m.Error(m.Has("device") ? "device" : "dtype", placement.message());
  }
  return absl::OkStatus();
}

absl::Status ValidateLmJudge(const LmJudgeOptions& o) {
  if (o.path.empty()) return absl::InvalidArgumentError("path is empty");
  if (o.template_path.empty()) return absl::InvalidArgumentError("template is empty");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ScoringObjective>> CreateLmJudge(const ObjectiveOptions& objective,
                                                                const LmJudgeOptions& options,
                                                                int max_batch_size) {
  auto named = [&](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat("objective '", objective.name, "': ", status.message()));
  };
  absl::StatusOr<JudgeTemplate> loaded_template =
      LoadJudgeTemplate(options.template_path, options.constitution);
  if (!loaded_template.ok()) return named(loaded_template.status());
  absl::StatusOr<std::string> rating_principle =
      ResolvePrinciple(*loaded_template, options.principle);
  if (!rating_principle.ok()) return named(rating_principle.status());
  absl::StatusOr<model::ModelPlacement> placement =
      model::ParsePlacement(options.dtype, options.device);
  if (!placement.ok()) return named(placement.status());
  absl::StatusOr<std::unique_ptr<weights::VersionedModel>> model =
      weights::VersionedModel::Load(options.path, *placement, /*version=*/0);
  if (!model.ok()) return named(model.status());
  const std::string& tokenizer_at =
      options.judge_tokenizer.empty() ? options.path : options.judge_tokenizer;
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> judge_tokenizer =
      tokenizer::LoadTokenizer(tokenizer_at);
  if (!judge_tokenizer.ok()) {
    return named(absl::Status(
        judge_tokenizer.status().code(),
        absl::StrCat("the judge reads text and needs a tokenizer: '", tokenizer_at,
                     "': ", judge_tokenizer.status().message(), " (set `judge_tokenizer`)")));
  }
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> item_tokenizer =
      LoadObjectiveTokenizer(objective);
  if (!item_tokenizer.ok()) return item_tokenizer.status();
  // Labels are encoded as responses: what follows the ending, with no BOS.
  auto encode_labels = [&](const std::vector<std::string>& texts,
                           absl::string_view key) -> absl::StatusOr<std::vector<Ids>> {
    std::vector<Ids> labels;
    for (const std::string& text : texts) {
      absl::StatusOr<Ids> ids = tokenizer::EncodeResponseText(**judge_tokenizer, text, 4096,
                                                              absl::StrCat(key, " '", text, "'"));
      if (!ids.ok()) return named(ids.status());
      if (ids->empty()) {
        return named(absl::InvalidArgumentError(
            absl::StrCat(options.template_path, ": ", key, " '", text, "' encodes to no tokens")));
      }
      for (int64_t id : *ids) {
        if (id < 0 || id >= (*model)->config().vocab_size) {
          return named(absl::InvalidArgumentError(
              absl::StrCat(options.template_path, ": ", key, " '", text, "' has token ", id,
                           " outside the judge's vocabulary of ", (*model)->config().vocab_size)));
        }
      }
      labels.push_back(*std::move(ids));
    }
    return labels;
  };
  ASSIGN_OR_RETURN(std::vector<Ids> labels, encode_labels(loaded_template->labels, "labels"));
  ASSIGN_OR_RETURN(std::vector<Ids> rating_labels,
                   encode_labels(loaded_template->rating_labels, "rating_labels"));
  return std::make_unique<LmJudgeObjective>(
      objective, options, max_batch_size, *std::move(loaded_template), *std::move(item_tokenizer),
      *std::move(judge_tokenizer), *std::move(model), std::move(labels), std::move(rating_labels),
      *std::move(rating_principle));
}

}  // namespace

std::shared_ptr<const ScoringObjectiveKind> LmJudgeObjectiveKind() {
  static const auto* const kind =
      new std::shared_ptr<const ScoringObjectiveKind>(MakeObjectiveKind<LmJudgeOptions>({
          .name = "lm_judge",
          .category = ObjectiveCategory::kLmJudge,
          .parse = ParseLmJudge,
          .validate = ValidateLmJudge,
          .create = CreateLmJudge,
      }));
  return *kind;
}

}  // namespace plumb::scorer
