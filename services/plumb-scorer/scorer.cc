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
  return std::unique_ptr<Scorer>(new Scorer(options, std::move(objectives)));
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
