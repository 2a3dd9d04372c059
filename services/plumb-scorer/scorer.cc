#include "services/plumb-scorer/scorer.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/echo.h"
#include "common/status/torch_status.h"
#include "services/plumb-scorer/composition.h"

namespace plumb::scorer {

absl::StatusOr<std::unique_ptr<Scorer>> Scorer::Create(const ScorerOptions& options) {
  if (absl::Status status = ValidateScorerOptions(options); !status.ok()) return status;
  std::vector<std::unique_ptr<ScoringObjective>> objectives;
  for (const ObjectiveOptions& objective : options.objectives) {
    absl::StatusOr<std::unique_ptr<ScoringObjective>> created =
        CreateObjective(objective, options.max_batch_size);
    if (!created.ok()) return created.status();
    objectives.push_back(*std::move(created));
  }
  std::unique_ptr<Scorer> scorer(new Scorer(options, std::move(objectives)));
  if (options.default_judge.empty() || options.default_judge == kComposedRewardJudge) {
    scorer->default_judge_ = kComposedRewardJudge;
  } else if (scorer->FindJudge(options.default_judge) != nullptr) {
    scorer->default_judge_ = options.default_judge;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("scorer.default_judge: '", options.default_judge,
                     "' is not a judge; judges: ", absl::StrJoin(scorer->JudgeNames(), ", ")));
  }
  return scorer;
}

const PairwiseJudge* Scorer::FindJudge(const std::string& name) const {
  for (const auto& objective : objectives_) {
    if (objective->name() == name) return objective->judge();
  }
  return nullptr;
}

std::vector<std::string> Scorer::JudgeNames() const {
  std::vector<std::string> names = {kComposedRewardJudge};
  for (const auto& objective : objectives_) {
    if (objective->judge() != nullptr) names.push_back(objective->name());
  }
  return names;
}

absl::StatusOr<CompareOutput> Scorer::Compare(const std::vector<ScoreInput>& firsts,
                                              const std::vector<ScoreInput>& seconds,
                                              const std::string& judge,
                                              const std::string& principle) const {
  CompareOutput out;
  out.judge = judge.empty() ? default_judge_ : judge;
  const PairwiseJudge* pairwise = nullptr;
  if (out.judge != kComposedRewardJudge) {
    pairwise = FindJudge(out.judge);
    if (pairwise == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown judge ", Echo(out.judge, kDefaultEchoBytes, '\''),
                       "; judges: ", absl::StrJoin(JudgeNames(), ", ")));
    }
  } else if (!principle.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "judge '", kComposedRewardJudge, "' has no principles (got ", Echo(principle), ")"));
  }
  if (firsts.empty()) return absl::InvalidArgumentError("no pairs");
  if (firsts.size() != seconds.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(firsts.size(), " first responses but ", seconds.size(), " second ones"));
  }
  if (pairwise == nullptr) {
    // Both responses of every pair scored in one batch: items 2i (first) and 2i + 1 (second).
    std::vector<ScoreInput> items;
    items.reserve(2 * firsts.size());
    for (size_t i = 0; i < firsts.size(); ++i) {
      items.push_back(firsts[i]);
      items.push_back(seconds[i]);
    }
    absl::StatusOr<std::vector<ScoreOutput>> scored = Score(items);
    if (!scored.ok()) return scored.status();
    for (size_t i = 0; i < firsts.size(); ++i) {
      const ScoreOutput& a = (*scored)[2 * i];
      const ScoreOutput& b = (*scored)[2 * i + 1];
      if (!a.reward.has_value() || !b.reward.has_value()) {
        return absl::FailedPreconditionError("the composition gave no reward to compare");
      }
      out.p_first.push_back(1.0 / (1.0 + std::exp(*b.reward - *a.reward)));
    }
    return out;
  }
  // The scorer's one model boundary, as in Score.
  absl::StatusOr<JudgeVerdicts> verdicts =
      TorchBoundary(absl::StrCat("judge '", out.judge, "'"),
                    [&] { return pairwise->Compare(firsts, seconds, principle); });
  if (!verdicts.ok()) return verdicts.status();
  for (size_t i = 0; i < verdicts->p_first.size(); ++i) {
    const double p = verdicts->p_first[i];
    if (!std::isfinite(p) || p < 0 || p > 1) {
      return absl::InternalError(
          absl::StrCat("judge '", out.judge, "' produced P = ", p, " for pairs[", i, "]"));
    }
  }
  out.principle = verdicts->principle;
  out.p_first = std::move(verdicts->p_first);
  return out;
}

Scorer::Scorer(ScorerOptions options, std::vector<std::unique_ptr<ScoringObjective>> objectives)
    : options_(std::move(options)),
      objectives_(std::move(objectives)),
      cache_(std::make_unique<ScoreCache>(options_.cache_entries)) {}

std::string Scorer::ConfiguredNames() const {
  std::vector<std::string> names;
  for (const auto& objective : objectives_) names.push_back(objective->name());
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<std::vector<size_t>> Scorer::Select(const std::vector<std::string>& names) const {
  std::vector<size_t> selected;
  if (names.empty()) {
    for (size_t k = 0; k < objectives_.size(); ++k) selected.push_back(k);
    return selected;
  }
  for (const std::string& name : names) {
    size_t k = 0;
    while (k < objectives_.size() && objectives_[k]->name() != name) ++k;
    if (k == objectives_.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown objective '", name, "'; configured objectives: ", ConfiguredNames()));
    }
    if (std::find(selected.begin(), selected.end(), k) != selected.end()) {
      return absl::InvalidArgumentError(absl::StrCat("objective '", name, "' is requested twice"));
    }
    selected.push_back(k);
  }
  return selected;
}

absl::StatusOr<std::vector<ScoreOutput>> Scorer::Score(
    const std::vector<ScoreInput>& items, const std::vector<std::string>& objectives) const {
  if (items.empty()) return absl::InvalidArgumentError("no items to score");
  if (items.size() > static_cast<size_t>(options_.max_items_per_request)) {
    return absl::InvalidArgumentError(absl::StrCat(
        items.size(), " items exceed max_items_per_request ", options_.max_items_per_request));
  }
  absl::StatusOr<std::vector<size_t>> selected = Select(objectives);
  if (!selected.ok()) return selected.status();
  absl::flat_hash_map<absl::string_view, size_t> first_with_id;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string& id = items[i].id;
    if (id.empty()) return absl::InvalidArgumentError(absl::StrCat("items[", i, "].id is empty"));
    if (id.size() > kMaxItemIdBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("items[", i, "].id is ", id.size(), " bytes; at most ", kMaxItemIdBytes));
    }
    if (auto [it, inserted] = first_with_id.emplace(id, i); !inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("items[", i, "].id '", id, "' repeats items[", it->second, "].id"));
    }
  }

  // Check and convert everything before any model work.
  std::vector<std::unique_ptr<ScoringObjective::Batch>> batches;
  for (size_t k : *selected) {
    absl::StatusOr<std::unique_ptr<ScoringObjective::Batch>> batch = objectives_[k]->Prepare(items);
    if (!batch.ok()) return batch.status();
    batches.push_back(*std::move(batch));
  }

  std::vector<std::vector<double>> scores(selected->size(), std::vector<double>(items.size()));
  for (size_t s = 0; s < selected->size(); ++s) {
    const ScoringObjective& objective = *objectives_[(*selected)[s]];
    std::vector<uint64_t> keys(items.size());
    std::vector<size_t> missing;
    for (size_t i = 0; i < items.size(); ++i) {
      if (cache_->enabled()) {
        keys[i] = ScoreCacheKey(objective.name(), batches[s]->generation(), items[i]);
        if (std::optional<double> hit = cache_->Lookup(keys[i]); hit.has_value()) {
          scores[s][i] = *hit;
          continue;
        }
      }
      missing.push_back(i);
    }
    if (missing.empty()) continue;
    // The scorer's one model boundary: whatever an objective's Run throws becomes a Status here.
    absl::StatusOr<std::vector<double>> computed =
        TorchBoundary(absl::StrCat("objective '", objective.name(), "'"),
                      [&] { return objective.Run(*batches[s], missing); });
    if (!computed.ok()) return computed.status();
    for (size_t m = 0; m < missing.size(); ++m) {
      const double value = (*computed)[m];
      if (!std::isfinite(value)) {
        return absl::InternalError(absl::StrCat("objective '", objective.name(),
                                                "' produced a non-finite score (", value,
                                                ") for items[", missing[m], "]"));
      }
      scores[s][missing[m]] = value;
      cache_->Insert(keys[missing[m]], value);
    }
  }

  std::vector<ScoreOutput> outputs(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    ScoreOutput& out = outputs[i];
    out.id = items[i].id;
    std::map<std::string, double> normalized;
    for (size_t s = 0; s < selected->size(); ++s) {
      const size_t k = (*selected)[s];
      const ObjectiveOptions& config = options_.objectives[k];
      out.scores.push_back({config.name, scores[s][i]});
      normalized[config.name] = Normalize(scores[s][i], config.mean, config.stddev);
    }
    const ComposedReward composed =
        ComposeReward(options_.composition, normalized,
                      PromptFlaggedUnsafe(options_.composition, items[i].prompt_metadata));
    out.reward = composed.reward;
    out.gated = composed.gated;
  }
  return outputs;
}

absl::StatusOr<weights::VersionedModel*> Scorer::ModelForWeights(const std::string& objective) {
  for (const auto& candidate : objectives_) {
    if (candidate->name() == objective) return candidate->ModelForWeights();
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown objective ",
                                                 Echo(objective, kDefaultEchoBytes, '\''),
                                                 "; configured objectives: ", ConfiguredNames()));
}

std::vector<ObjectiveDescription> Scorer::Describe() const {
  std::vector<ObjectiveDescription> described;
  for (const auto& objective : objectives_) described.push_back(objective->Describe());
  return described;
}

}  // namespace plumb::scorer
