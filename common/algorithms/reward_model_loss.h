// Pairwise reward-model objectives on scalar rewards r_c = r(x, y_chosen), r_r = r(x, y_rejected),
// both [B] (last-token value head):
//   Bradley-Terry:        mean_b -logsigmoid(r_c - r_r)
//   Llama 2 margin:       mean_b -logsigmoid(r_c - r_r - m)      (m [B] >= 0 from MarginTable)
//   reward centering:     + coef * mean_b (r_c + r_r)^2           (TRL center_rewards_coefficient)
// Matches OpenRLHF PairWiseLoss and TRL RewardTrainer.compute_loss.
#ifndef PLUMB_COMMON_ALGORITHMS_REWARD_MODEL_LOSS_H_
#define PLUMB_COMMON_ALGORITHMS_REWARD_MODEL_LOSS_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::algorithms {

// mean_b -logsigmoid(r_c - r_r - m); an undefined `margin` means no margin.
at::Tensor PairwiseRewardLoss(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                              const at::Tensor& margin = at::Tensor());

// mean_b log(1 + exp(r_r - r_c)), computed stably as softplus (OpenRLHF's LogExpLoss computes it
// literally and ignores any margin). Equal to PairwiseRewardLoss without a margin.
at::Tensor LogExpRewardLoss(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards);

// Fraction of pairs with r_c > r_r (ties count as wrong), 0-dim, detached.
at::Tensor PairwiseAccuracy(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards);

struct RewardModelLossOptions {
  double center_rewards_coefficient = 0.0;  // TRL; 0 disables centering
};

struct RewardModelLoss {
  at::Tensor loss;      // scalar: pairwise (margin) loss + centering term
  at::Tensor accuracy;  // scalar, detached
};

// The full training loss: PairwiseRewardLoss(margin) + coef * mean((r_c + r_r)^2).
RewardModelLoss ComputeRewardModelLoss(const at::Tensor& chosen_rewards,
                                       const at::Tensor& rejected_rewards, const at::Tensor& margin,
                                       const RewardModelLossOptions& options);

// Maps a preference-strength label to the Llama 2 margin m. Labels are the Llama 2 annotation
// scale: significantly_better, better, slightly_better, negligibly_better (alias: unsure).
class MarginTable {
 public:
  // Llama 2 (Touvron et al., 2023) Table 28, "margin small": 1, 2/3, 1/3, 0.
  static MarginTable Llama2Small();
  // Llama 2 Table 28, "margin large": 3, 2, 1, 0.
  static MarginTable Llama2Large();
  // Custom table; INVALID_ARGUMENT for an empty table, an empty label or a negative margin.
  static absl::StatusOr<MarginTable> Create(std::map<std::string, double> margins);

  // INVALID_ARGUMENT naming the label (and the known ones) if it is not in the table.
  absl::StatusOr<double> Lookup(absl::string_view label) const;
  // Margins [B] (float64) for a batch of labels.
  absl::StatusOr<at::Tensor> Margins(const std::vector<std::string>& labels) const;

  const std::map<std::string, double>& margins() const { return margins_; }

 private:
  explicit MarginTable(std::map<std::string, double> margins) : margins_(std::move(margins)) {}
  std::map<std::string, double> margins_;
};

// InstructGPT's K-way ranking to comparisons: every pair (i < j) with ranks[i] != ranks[j],
// as (winner, loser) indices, rank 1 = best (a lower rank wins). Ties give no pair. Order:
// i ascending, then j ascending. K distinct ranks give K(K-1)/2 pairs.
std::vector<std::pair<int, int>> RankingToPairs(const std::vector<int>& ranks);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_REWARD_MODEL_LOSS_H_
