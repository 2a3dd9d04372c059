// Critic-free group baselines: N = P * G samples, the G completions of one prompt CONTIGUOUS.
// Sequence-level estimators (TRL GRPO, TRL RLOO) return one advantage per sequence [N], which
// the loss broadcasts over completion tokens; OpenRLHF's estimators return per-token [N, T].
// These produce training targets: they run under NoGradGuard.
#ifndef PLUMB_COMMON_ALGORITHMS_GROUP_ADVANTAGES_H_
#define PLUMB_COMMON_ALGORITHMS_GROUP_ADVANTAGES_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/algorithms/kl.h"

namespace plumb::algorithms {

// rewards [N] = nansum_f w_f * rewards_per_func[:, f] (TRL: a reward function may return NaN
// for a sample it does not apply to). rewards_per_func [N, F], reward_weights [F].
at::Tensor AggregateRewards(const at::Tensor& rewards_per_func, const at::Tensor& reward_weights);

enum class RewardScaling { kGroup, kBatch, kNone };
// "group" | "batch" | "none"; INVALID_ARGUMENT otherwise.
absl::StatusOr<RewardScaling> ParseRewardScaling(absl::string_view name);

struct GrpoAdvantageOptions {
  int64_t num_generations = 8;  // G >= 2
  RewardScaling scale_rewards = RewardScaling::kGroup;
  double eps = 1e-4;
};

struct GrpoAdvantages {
  at::Tensor rewards;               // [N] aggregated
  at::Tensor mean_grouped_rewards;  // [N] group mean, repeated
  at::Tensor std_rewards;  // [N] unbiased std of the group (kGroup, kNone) or batch (kBatch)
  at::Tensor advantages;   // [N] (r - group mean) / (std + eps); no division for kNone
};

// TRL GRPOTrainer. A zero-variance group gets advantage 0. INVALID_ARGUMENT if G < 2 or N is
// not a multiple of G.
absl::StatusOr<GrpoAdvantages> ComputeGrpoAdvantages(const at::Tensor& rewards_per_func,
                                                     const at::Tensor& reward_weights,
                                                     const GrpoAdvantageOptions& options);

struct RlooAdvantageOptions {
  int64_t num_generations = 2;  // G >= 2
  double beta = 0.05;           // sequence-level k1 KL coefficient; 0 = no penalty
  bool normalize_advantages = false;
  double eps = 1e-4;
};

struct RlooAdvantages {
  at::Tensor rewards;     // [N] aggregated reward - beta * sum_t (old - ref) * mask
  at::Tensor baselines;   // [N] leave-one-out mean of the other G-1 rewards of the group
  at::Tensor advantages;  // [N] rewards - baselines, optionally batch-normalised:
                          // (a - mean(a)) / (unbiased_std(a) + eps)
};

// TRL RLOOTrainer. old_per_token_logps / ref_per_token_logps / completion_mask [N, T].
// INVALID_ARGUMENT if G < 2 or N is not a multiple of G.
absl::StatusOr<RlooAdvantages> ComputeRlooAdvantages(const at::Tensor& rewards_per_func,
                                                     const at::Tensor& reward_weights,
                                                     const at::Tensor& old_per_token_logps,
                                                     const at::Tensor& ref_per_token_logps,
                                                     const at::Tensor& completion_mask,
                                                     const RlooAdvantageOptions& options);

enum class GroupEstimator {
  kRloo,               // r_i - (sum_group r - r_i) / (G - 1)
  kGroupNorm,          // (r_i - mean_g) / (unbiased std_g + eps)   (OpenRLHF "group_norm")
  kReinforceBaseline,  // r_i - mean_g, then batch whitening of the per-token advantages
};
// "rloo" | "group_norm" | "reinforce_baseline"; INVALID_ARGUMENT otherwise.
absl::StatusOr<GroupEstimator> ParseGroupEstimator(absl::string_view name);

struct TokenGroupAdvantageOptions {
  GroupEstimator estimator = GroupEstimator::kRloo;
  int64_t n_samples_per_prompt = 4;  // G (>= 2 for rloo and group_norm)
  double kl_coef = 0.0;              // per-token KL in the reward; <= 0 disables it
  KlEstimator kl_estimator = KlEstimator::kK1;
  double gamma = 1.0;        // OpenRLHF forces 1 for these estimators
  bool no_std_norm = false;  // reinforce_baseline whitening without the std division
  double eps = 1e-9;         // group_norm denominator epsilon
};

struct TokenGroupAdvantages {
  at::Tensor sequence_scores;  // [N] after the group baseline
  at::Tensor kl;               // [N, T] per-token KL estimate (clamped to +-10)
  at::Tensor shaped_reward;    // [N, T] KlShapedReward(sequence_scores, kl)
  at::Tensor returns;          // [N, T] reward-to-go of the masked shaped reward
  at::Tensor advantages;       // [N, T] returns, whitened (OpenRLHF style) for
                               // reinforce_baseline only
};

// OpenRLHF compute_advantages_and_returns for rloo / group_norm / reinforce_baseline.
// rewards [N]; log_probs, ref_log_probs, action_mask [N, T]. INVALID_ARGUMENT if N is not a
// multiple of G, G < 1, or G < 2 for rloo / group_norm.
absl::StatusOr<TokenGroupAdvantages> ComputeTokenGroupAdvantages(
    const at::Tensor& rewards, const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
    const at::Tensor& action_mask, const TokenGroupAdvantageOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_GROUP_ADVANTAGES_H_
