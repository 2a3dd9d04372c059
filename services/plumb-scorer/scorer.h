// The reward scorer's core, without gRPC: named objectives (reward models, the AFINN lexicon,
// length and format rules), each item's per-objective scores, and the composed reward of
// scorer.proto's RewardComposition (composition.h). The gRPC adapter maps ScoreItem to
// ScoreInput and this class's Status codes straight to gRPC codes.
//
// Thread safety: every method may be called from many threads at once. Objectives guard their
// own state (a reward model serialises forward passes per weight snapshot; in-flight requests
// keep the snapshot they started with across a weight load); the cache has its own mutex.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_SCORER_H_
#define PLUMB_SERVICES_PLUMB_SCORER_SCORER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/plumb-scorer/objective.h"
#include "services/plumb-scorer/score_cache.h"
#include "services/plumb-scorer/scorer_options.h"

namespace plumb::scorer {

inline constexpr size_t kMaxItemIdBytes = 256;
// The judge every scorer has: Bradley-Terry over the composed reward, sigmoid(r1 - r2).
inline constexpr char kComposedRewardJudge[] = "composed_reward";

// What Compare answers: the judge and principle used (after defaults) and P(first preferred)
// per pair, in pair order.
struct CompareOutput {
  std::string judge;
  std::string principle;
  std::vector<double> p_first;
};

class Scorer {
 public:
  // Validates the options and builds every objective (loads models, tokenizers, the lexicon).
  static absl::StatusOr<std::unique_ptr<Scorer>> Create(const ScorerOptions& options);

  // Scores `items` under `objectives` (empty = all, in configured order; else in the given
  // order) and composes each item's reward. Results are in item order.
  // INVALID_ARGUMENT: no items or more than max_items_per_request; an empty, over-long or
  // repeated item id; an unknown or repeated objective name; an item an objective cannot score
  // (objective.h). INTERNAL: an objective produced NaN or +-Inf, or its model failed.
  absl::StatusOr<std::vector<ScoreOutput>> Score(
      const std::vector<ScoreInput>& items, const std::vector<std::string>& objectives = {}) const;

  // P(firsts[i] preferred over seconds[i]) for each pair (two responses to one prompt) by judge
  // `judge` ("" = the configured default_judge): kComposedRewardJudge, or an objective that
  // judges (an lm_judge) under constitution principle `principle` ("" = its default).
  // INVALID_ARGUMENT: no pairs, mismatched lists, an unknown judge (the message lists the
  // judges), a principle for a judge without it, a pair the judge cannot read or fit.
  // FAILED_PRECONDITION: the composition gives no reward to compare. INTERNAL: a model failure
  // or a non-finite probability.
  absl::StatusOr<CompareOutput> Compare(const std::vector<ScoreInput>& firsts,
                                        const std::vector<ScoreInput>& seconds,
                                        const std::string& judge,
                                        const std::string& principle) const;
  // kComposedRewardJudge, then each judging objective's name, in configured order.
  std::vector<std::string> JudgeNames() const;
  // The judge Compare uses when a request names none.
  const std::string& default_judge() const { return default_judge_; }
  // The pairwise judge of objective `name`, null when it has none (or is unknown).
  const PairwiseJudge* FindJudge(const std::string& name) const;

  // The model of reward_model objective `objective`, which a weight stream naming it (the
  // manifest's `model`) loads into through the same VersionedModel path as every service's;
  // requests in flight finish on the weights they started with. INVALID_ARGUMENT for an unknown
  // objective; FAILED_PRECONDITION for one that is not model-backed.
  absl::StatusOr<weights::VersionedModel*> ModelForWeights(const std::string& objective);

  std::vector<ObjectiveDescription> Describe() const;
  const ScorerOptions& options() const { return options_; }
  const CompositionOptions& composition() const { return options_.composition; }
  CacheStats cache_stats() const { return cache_->stats(); }

 private:
  Scorer(ScorerOptions options, std::vector<std::unique_ptr<ScoringObjective>> objectives);

  // Indexes into objectives_ of the requested names, or an INVALID_ARGUMENT.
  absl::StatusOr<std::vector<size_t>> Select(const std::vector<std::string>& names) const;
  std::string ConfiguredNames() const;

  const ScorerOptions options_;
  const std::vector<std::unique_ptr<ScoringObjective>> objectives_;  // in options_.objectives order
  const std::unique_ptr<ScoreCache> cache_;
  std::string default_judge_;
};

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_SCORER_H_
