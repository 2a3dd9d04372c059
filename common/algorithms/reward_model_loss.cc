#include "common/algorithms/reward_model_loss.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::algorithms {

at::Tensor PairwiseRewardLoss(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                              const at::Tensor& margin, const at::Tensor& target_probability) {
  at::Tensor logits = chosen_rewards - rejected_rewards;
  if (margin.defined()) logits = logits - margin;
  if (!target_probability.defined()) return -at::log_sigmoid(logits).mean();
  // Both terms through log_sigmoid, stable for either sign of z; with p = 1 the second term is
  // 0 * a finite value, so the loss is bit-for-bit the Bradley-Terry one above.
  const at::Tensor& p = target_probability;
  return -(p * at::log_sigmoid(logits) + (1 - p) * at::log_sigmoid(-logits)).mean();
}

at::Tensor LogExpRewardLoss(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards) {
  return at::softplus(rejected_rewards - chosen_rewards).mean();
}

PairwiseAgreement CountPairwiseAgreement(const at::Tensor& chosen_rewards,
                                         const at::Tensor& rejected_rewards,
                                         const at::Tensor& target_probability) {
  const at::Tensor chosen = chosen_rewards.detach(), rejected = rejected_rewards.detach();
  PairwiseAgreement out;
  if (!target_probability.defined()) {
    out.correct = (chosen > rejected).to(at::kDouble).sum();
    out.counted = at::scalar_tensor(static_cast<double>(chosen.numel()),
                                    at::TensorOptions().dtype(at::kDouble).device(chosen.device()));
    return out;
  }
  const at::Tensor p = target_probability.detach();
  const at::Tensor correct = ((p > 0.5) & (chosen > rejected)) | ((p < 0.5) & (chosen < rejected));
  out.correct = correct.to(at::kDouble).sum();
  out.counted = (p != 0.5).to(at::kDouble).sum();
  return out;
}

at::Tensor PairwiseAccuracy(const at::Tensor& chosen_rewards, const at::Tensor& rejected_rewards,
                            const at::Tensor& target_probability) {
  const PairwiseAgreement agreement =
      CountPairwiseAgreement(chosen_rewards, rejected_rewards, target_probability);
  return agreement.correct / agreement.counted.clamp_min(1.0);
}

RewardModelLoss ComputeRewardModelLoss(const at::Tensor& chosen_rewards,
                                       const at::Tensor& rejected_rewards, const at::Tensor& margin,
                                       const RewardModelLossOptions& options,
                                       const at::Tensor& target_probability) {
  RewardModelLoss out;
  out.loss = PairwiseRewardLoss(chosen_rewards, rejected_rewards, margin, target_probability);
  if (options.center_rewards_coefficient != 0.0) {
    out.loss = out.loss + options.center_rewards_coefficient *
                              (chosen_rewards + rejected_rewards).pow(2).mean();
  }
  out.agreement = CountPairwiseAgreement(chosen_rewards, rejected_rewards, target_probability);
  out.accuracy = out.agreement.correct / out.agreement.counted.clamp_min(1.0);
  return out;
}

MarginTable MarginTable::Llama2Small() {
  return MarginTable({{"significantly_better", 1.0},
                      {"better", 2.0 / 3.0},
                      {"slightly_better", 1.0 / 3.0},
                      {"negligibly_better", 0.0},
                      {"unsure", 0.0}});
}

MarginTable MarginTable::Llama2Large() {
  return MarginTable({{"significantly_better", 3.0},
                      {"better", 2.0},
                      {"slightly_better", 1.0},
                      {"negligibly_better", 0.0},
                      {"unsure", 0.0}});
}

absl::StatusOr<MarginTable> MarginTable::Create(std::map<std::string, double> margins) {
  if (margins.empty()) return absl::InvalidArgumentError("margin table: no labels");
  for (const auto& [label, margin] : margins) {
    if (label.empty()) return absl::InvalidArgumentError("margin table: empty label");
    if (!(margin >= 0.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("margin table: label '", label, "' has negative margin ", margin));
    }
  }
  return MarginTable(std::move(margins));
}

absl::StatusOr<double> MarginTable::Lookup(absl::string_view label) const {
  const auto it = margins_.find(std::string(label));
  if (it == margins_.end()) {
    std::vector<std::string> known;
    for (const auto& [name, margin] : margins_) known.push_back(name);
    return absl::InvalidArgumentError(absl::StrCat("margin table: unknown label '", label,
                                                   "'; known: ", absl::StrJoin(known, ", ")));
  }
  return it->second;
}

absl::StatusOr<at::Tensor> MarginTable::Margins(const std::vector<std::string>& labels) const {
  std::vector<double> values;
  values.reserve(labels.size());
  for (const std::string& label : labels) {
    absl::StatusOr<double> margin = Lookup(label);
    if (!margin.ok()) return margin.status();
    values.push_back(*margin);
  }
  return torch::tensor(values, torch::kDouble);
}

std::vector<std::pair<int, int>> RankingToPairs(const std::vector<int>& ranks) {
  std::vector<std::pair<int, int>> pairs;
  const int k = static_cast<int>(ranks.size());
  for (int i = 0; i < k; ++i) {
    for (int j = i + 1; j < k; ++j) {
      if (ranks[i] < ranks[j]) pairs.emplace_back(i, j);
      if (ranks[j] < ranks[i]) pairs.emplace_back(j, i);
    }
  }
  return pairs;
}

}  // namespace plumb::algorithms
