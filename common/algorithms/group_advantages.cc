#include "common/algorithms/group_advantages.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/algorithms/advantages.h"

namespace plumb::algorithms {
namespace {

absl::Status CheckGroups(int64_t n, int64_t group_size, int64_t min_group, absl::string_view who) {
  if (group_size < min_group) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": group size must be >= ", min_group, ", got ", group_size));
  }
  if (n % group_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": ", n, " samples are not a multiple of the group size ", group_size));
  }
  return absl::OkStatus();
}

// [N] -> [N / G, G] view of contiguous groups.
at::Tensor Grouped(const at::Tensor& x, int64_t group_size) { return x.view({-1, group_size}); }

// Leave-one-out baseline (sum_group - r_i) / (G - 1), [N].
at::Tensor LeaveOneOutBaseline(const at::Tensor& rewards, int64_t group_size) {
  const at::Tensor grouped = Grouped(rewards, group_size);
  return ((grouped.sum(1, /*keepdim=*/true) - grouped) / static_cast<double>(group_size - 1))
      .reshape(-1);
}

}  // namespace

at::Tensor AggregateRewards(const at::Tensor& rewards_per_func, const at::Tensor& reward_weights) {
  return at::nansum(rewards_per_func * reward_weights.unsqueeze(0), {1});
}

absl::StatusOr<RewardScaling> ParseRewardScaling(absl::string_view name) {
  if (name == "group") return RewardScaling::kGroup;
  if (name == "batch") return RewardScaling::kBatch;
  if (name == "none") return RewardScaling::kNone;
  return absl::InvalidArgumentError(
      absl::StrCat("scale_rewards: unknown value '", name, "'; use group, batch or none"));
}

absl::StatusOr<GroupEstimator> ParseGroupEstimator(absl::string_view name) {
  if (name == "rloo") return GroupEstimator::kRloo;
  if (name == "group_norm") return GroupEstimator::kGroupNorm;
  if (name == "reinforce_baseline") return GroupEstimator::kReinforceBaseline;
  return absl::InvalidArgumentError(absl::StrCat("advantage_estimator: unknown value '", name,
                                                 "'; use rloo, group_norm or reinforce_baseline"));
}

absl::StatusOr<GrpoAdvantages> ComputeGrpoAdvantages(const at::Tensor& rewards_per_func,
                                                     const at::Tensor& reward_weights,
                                                     const GrpoAdvantageOptions& options) {
  const int64_t g = options.num_generations;
  absl::Status status = CheckGroups(rewards_per_func.size(0), g, 2, "grpo");
  if (!status.ok()) return status;
  at::NoGradGuard no_grad;
  GrpoAdvantages out;
  out.rewards = AggregateRewards(rewards_per_func, reward_weights);
  const at::Tensor grouped = Grouped(out.rewards, g);
  out.mean_grouped_rewards = grouped.mean(1).repeat_interleave(g);
  if (options.scale_rewards == RewardScaling::kBatch) {
    out.std_rewards = out.rewards.std().expand_as(out.rewards).contiguous();
  } else {
    out.std_rewards = grouped.std(1).repeat_interleave(g);
  }
  out.advantages = out.rewards - out.mean_grouped_rewards;
  if (options.scale_rewards != RewardScaling::kNone) {
    out.advantages = out.advantages / (out.std_rewards + options.eps);
  }
  return out;
}

absl::StatusOr<RlooAdvantages> ComputeRlooAdvantages(const at::Tensor& rewards_per_func,
                                                     const at::Tensor& reward_weights,
                                                     const at::Tensor& old_per_token_logps,
                                                     const at::Tensor& ref_per_token_logps,
                                                     const at::Tensor& completion_mask,
                                                     const RlooAdvantageOptions& options) {
  const int64_t g = options.num_generations;
  absl::Status status = CheckGroups(rewards_per_func.size(0), g, 2, "rloo");
  if (!status.ok()) return status;
  at::NoGradGuard no_grad;
  RlooAdvantages out;
  out.rewards = AggregateRewards(rewards_per_func, reward_weights);
  if (options.beta != 0.0) {
    const at::Tensor kl = ((old_per_token_logps - ref_per_token_logps) * completion_mask).sum(1);
    out.rewards = out.rewards - options.beta * kl;
  }
  out.baselines = LeaveOneOutBaseline(out.rewards, g);
  out.advantages = out.rewards - out.baselines;
  if (options.normalize_advantages) {
    out.advantages = WhitenBatch(out.advantages, /*subtract_mean=*/true, options.eps);
  }
  return out;
}

absl::StatusOr<TokenGroupAdvantages> ComputeTokenGroupAdvantages(
    const at::Tensor& rewards, const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
    const at::Tensor& action_mask, const TokenGroupAdvantageOptions& options) {
  const int64_t g = options.n_samples_per_prompt;
  const int64_t min_group = options.estimator == GroupEstimator::kReinforceBaseline ? 1 : 2;
  absl::Status status = CheckGroups(rewards.size(0), g, min_group, "group advantages");
  if (!status.ok()) return status;
  at::NoGradGuard no_grad;
  TokenGroupAdvantages out;
  const at::Tensor grouped = Grouped(rewards, g);
  switch (options.estimator) {
    case GroupEstimator::kRloo:
      out.sequence_scores = rewards - LeaveOneOutBaseline(rewards, g);
      break;
    case GroupEstimator::kGroupNorm:
      out.sequence_scores = ((grouped - grouped.mean(1, /*keepdim=*/true)) /
                             (grouped.std(1, /*unbiased=*/true, /*keepdim=*/true) + options.eps))
                                .reshape(-1);
      break;
    case GroupEstimator::kReinforceBaseline:
      out.sequence_scores = (grouped - grouped.mean(1, /*keepdim=*/true)).reshape(-1);
      break;
  }
  out.kl = ApproxKl(log_probs, ref_log_probs, options.kl_estimator);
  out.shaped_reward = KlShapedReward(out.sequence_scores, out.kl, action_mask, options.kl_coef);
  out.returns = CumulativeReturns(out.shaped_reward, action_mask, options.gamma);
  out.advantages = options.estimator == GroupEstimator::kReinforceBaseline
                       ? WhitenAdvantages(out.returns, action_mask, WhitenStyle::kOpenRlhf,
                                          /*shift_mean=*/true, options.no_std_norm)
                       : out.returns;
  return out;
}

}  // namespace plumb::algorithms
