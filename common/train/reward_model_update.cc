// RewardModelUpdate: the Bradley-Terry loss on the reward head's output (at each response's last
// token, or over its tokens: the model's reward_readout), over every comparison of each group (a
// ranked group's pairs, or one pair with its Llama 2 margin and its soft label), with optional
// reward centering; normalised by the comparisons of the whole batch. A micro-batch forwards all
// responses of its groups once.
#include <torch/torch.h>

#include "common/algorithms/reward_model_loss.h"
#include "common/model/mixed_precision.h"
#include "common/status/status_macros.h"
#include "common/train/offline_updates.h"
#include "common/train/sequence_scoring.h"
#include "common/train/update_support.h"

namespace plumb::train {

absl::StatusOr<StatSums> RewardModelUpdate(model::TransformerImpl& policy,
                                           const std::vector<RankedItem>& batch,
                                           const RewardModelObjectiveOptions& options,
                                           const UpdateContext& context) {
  double comparisons = 0;
  for (const RankedItem& group : batch) {
    comparisons += static_cast<double>(algorithms::RankingToPairs(group.ranks).size());
  }
  if (comparisons == 0) return absl::InvalidArgumentError("a batch with no preference pairs");
  at::AutoGradMode grad_mode(context.train && at::GradMode::is_enabled());
  StatSums stats({"loss", "accuracy", "rewards/chosen", "rewards/rejected", "rewards/margin",
                  "rewards/accuracy", "tokens", "sequences"});
  RETURN_IF_ERROR(ForEachMicroBatch(context, [&](int64_t a, int64_t b) -> absl::Status {
    TokenRows rows;
    std::vector<int64_t> winners, losers;
    std::vector<double> margins, probabilities;
    bool soft_labels = false;  // any comparison here with a probability; else the hard loss
    for (int64_t g = a; g < b; ++g) {
      const RankedItem& group = batch[g];
      const int64_t first = rows.size();
      for (const std::vector<int64_t>& response : group.responses) rows.Add(group.prompt, response);
      for (const auto& [w, l] : algorithms::RankingToPairs(group.ranks)) {
        winners.push_back(first + w);
        losers.push_back(first + l);
        margins.push_back(options.use_margin ? options.margin_scale * group.margin.value_or(0.0)
                                             : 0.0);
        probabilities.push_back(group.probability.value_or(1.0));
        soft_labels = soft_labels || group.probability.has_value();
      }
    }
    if (winners.empty()) return absl::OkStatus();  // only ties here; nothing to learn
    at::Tensor chosen, rejected, loss_sum;
    algorithms::PairwiseAgreement agreement;
    double tokens = 0;
    {
      model::Bf16AutocastScope autocast(context.bf16_autocast, context.cuda);
      ASSIGN_OR_RETURN(SequenceScores scores, ScoreRows(policy, rows));
      tokens = SumOf(scores.count);
      const at::Tensor r =
          policy.Rewards(scores.reward_hidden).select(-1, options.output_index).to(torch::kFloat);
      const auto device = r.device();
      chosen = r.index_select(0, torch::tensor(winners, torch::kLong).to(device));
      rejected = r.index_select(0, torch::tensor(losers, torch::kLong).to(device));
      algorithms::RewardModelLossOptions loss_options;
      loss_options.center_rewards_coefficient = options.center_rewards_coefficient;
      const algorithms::RewardModelLoss rm = algorithms::ComputeRewardModelLoss(
          chosen, rejected, options.use_margin ? FloatTensor(margins, device) : at::Tensor(),
          loss_options, soft_labels ? FloatTensor(probabilities, device) : at::Tensor());
      // The library's loss is a mean over these comparisons: times their count, a sum.
      loss_sum = rm.loss * static_cast<double>(winners.size());
      agreement = rm.agreement;
    }
    Backpropagate(context, loss_sum / comparisons);
    const double k = static_cast<double>(winners.size());
    stats.Add("loss", SumOf(loss_sum), k);
    // Soft labels below 0.5 prefer the rejected response; pairs at exactly 0.5 are not counted.
    stats.Add("accuracy", SumOf(agreement.correct), SumOf(agreement.counted));
    AddRewardStats(chosen, rejected, &stats);
    stats.AddCounter("tokens", tokens);
    stats.AddCounter("sequences", static_cast<double>(rows.size()));
    return absl::OkStatus();
  }));
  return stats;
}

}  // namespace plumb::train
