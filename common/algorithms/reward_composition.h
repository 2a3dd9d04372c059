// Combining several reward models' scores into the one scalar reward PPO optimises.
//   linear:  composed = sum_o w_o * s_o
//   gated (Llama 2, Touvron et al. 2023, sec. 3.2.2):
//     g = s_safety if (prompt marked unsafe OR s_safety < threshold) else s_helpfulness,
//     composed = g + sum_{o not gated} w_o * s_o
// The gate decision always uses the RAW safety score (threshold in the reward model's units);
// the values combined are whitened per objective first when requested.
#ifndef PLUMB_COMMON_ALGORITHMS_REWARD_COMPOSITION_H_
#define PLUMB_COMMON_ALGORITHMS_REWARD_COMPOSITION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"

namespace plumb::algorithms {

// Running mean / variance of a stream of scalars (Welford, batches merged with Chan et al.'s
// parallel update), e.g. to whiten an objective's scores across rollout batches.
// Not thread-safe. The state is three plain numbers, so it checkpoints as-is.
class RunningMoments {
 public:
  struct State {
    double count = 0.0;
    double mean = 0.0;
    double m2 = 0.0;  // sum of squared deviations from the mean
  };

  RunningMoments() = default;
  // INVALID_ARGUMENT for count < 0, m2 < 0, non-finite values, or count == 0 with mean/m2 != 0.
  static absl::StatusOr<RunningMoments> FromState(const State& state);

  // Merges a batch (any shape). INVALID_ARGUMENT for a NaN value, and nothing is merged.
  absl::Status Update(const at::Tensor& values);

  double count() const { return state_.count; }
  double mean() const { return state_.mean; }
  double variance() const;         // population: m2 / count (0 when count == 0)
  double sample_variance() const;  // m2 / (count - 1) (0 when count < 2)
  double std() const;              // sqrt(population variance)
  const State& state() const { return state_; }

  // (x - mean) / (std + eps), in x's dtype.
  at::Tensor Whiten(const at::Tensor& x, double eps = 1e-8) const;

 private:
  explicit RunningMoments(const State& state) : state_(state) {}
  State state_;
};

struct SafetyGating {
  std::string safety_objective = "safety";
  std::string helpfulness_objective = "helpfulness";
  double threshold = 0.15;  // Llama 2's value, on the safety reward model's raw score
};

struct RewardCompositionOptions {
  // Weight of every objective that is linearly combined. With gating, the two gated
  // objectives must NOT appear here (the gated score enters with weight 1).
  std::map<std::string, double> weights;
  std::optional<SafetyGating> gating;
  // Whiten each objective with its RunningMoments (updated with this batch first).
  bool whiten_objectives = false;
};

// scores: objective name -> [N]; unsafe_prompt [N] bool (may be undefined without gating, or
// when no prompt is flagged). moments: per-objective running statistics, required (non-null)
// when whiten_objectives; missing entries are created. Returns composed [N].
// INVALID_ARGUMENT naming the objective for: a weight or gating objective with no scores, a
// scored objective with no weight (and not gated), a gated objective given a weight,
// mismatched shapes, or (when whitening) a NaN score.
absl::StatusOr<at::Tensor> ComposeRewards(const std::map<std::string, at::Tensor>& scores,
                                          const RewardCompositionOptions& options,
                                          const at::Tensor& unsafe_prompt = at::Tensor(),
                                          std::map<std::string, RunningMoments>* moments = nullptr);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_REWARD_COMPOSITION_H_
