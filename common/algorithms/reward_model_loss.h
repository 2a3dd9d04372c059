// Pairwise reward-model objectives on scalar rewards r_c = r(x, y_chosen), r_r = r(x, y_rejected),
// both [B] (last-token value head):
//   Bradley-Terry:        mean_b -logsigmoid(r_c - r_r)
//   Llama 2 margin:       mean_b -logsigmoid(r_c - r_r - m)      (m [B] >= 0 from MarginTable)
//   soft labels:          mean_b -(p logsigmoid(z) + (1 - p) logsigmoid(-z)), z = r_c - r_r [- m]
//                         (p [B] in [0, 1]: the probability that chosen is preferred, e.g. an AI
//                         judge's, as RLAIF trains its reward model; p = 1 is Bradley-Terry)
//   reward centering:     + coef * mean_b (r_c + r_r)^2           (TRL center_rewards_coefficient)
// Matches OpenRLHF PairWiseLoss and TRL RewardTrainer.compute_loss (without soft labels).
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

// mean_b -(p_b logsigmoid(z_b) + (1 - p_b) logsigmoid(-z_b)) with z = r_c - r_r - m: the
// cross-entropy against the target probability p [B] that chosen is preferred. An undefined
// `margin` means no margin; an undefined `target_probability` means p = 1, the Bradley-Terry loss
// mean_b -logsigmoid(z) (and p = 1 gives exactly that value). Per pair, d loss / d z is
// sigmoid(z) - p. p is not checked: callers validate it (finite, in [0, 1]).
at::Tensor PairwiseRewardLoss(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                              const at::Tensor& margin = at::Tensor(),
                              const at::Tensor& target_probability = at::Tensor());

// mean_b log(1 + exp(r_r - r_c)), computed stably as softplus (OpenRLHF's LogExpLoss computes it
// literally and ignores any margin). Equal to PairwiseRewardLoss without a margin.
at::Tensor LogExpRewardLoss(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards);

// The pairs whose reward order agrees with their label. Without a target probability: r_c > r_r.
// With p [B]: r_c > r_r where p > 0.5, r_c < r_r where p < 0.5; ties count as wrong. A pair with
// p == 0.5 prefers neither response and is left out (counted = the pairs with p != 0.5).
struct PairwiseAgreement {
  at::Tensor correct;  // 0-dim float64, detached
  at::Tensor counted;  // 0-dim float64, detached
};
PairwiseAgreement CountPairwiseAgreement(const at::Tensor& chosen_rewards,
                                         const at::Tensor& rejected_rewards,
                                         const at::Tensor& target_probability = at::Tensor());

// correct / counted of CountPairwiseAgreement (0 when no pair counts), 0-dim float64, detached.
// Without a target probability: the fraction of pairs with r_c > r_r (ties count as wrong).
at::Tensor PairwiseAccuracy(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                            const at::Tensor& target_probability = at::Tensor());

struct RewardModelLossOptions {
  double center_rewards_coefficient = 0.0;  // TRL; 0 disables centering
};

struct RewardModelLoss {
  at::Tensor loss;              // scalar: pairwise (margin, soft-label) loss + centering term
  at::Tensor accuracy;          // scalar, detached: PairwiseAccuracy
  PairwiseAgreement agreement;  // the counts behind `accuracy`, to sum over micro-batches
};

// The full training loss: PairwiseRewardLoss(margin, target_probability) plus
// coef * mean((r_c + r_r)^2). Undefined `margin` / `target_probability`: no margin / p = 1.
RewardModelLoss ComputeRewardModelLoss(const at::Tensor& chosen_rewards,
                                       const at::Tensor& rejected_rewards, const at::Tensor& margin,
                                       const RewardModelLossOptions& options,
                                       const at::Tensor& target_probability = at::Tensor());

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
