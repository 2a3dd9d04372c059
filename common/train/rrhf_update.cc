// RrhfUpdate: for each prompt, its responses ranked (rewards = -rank, so a lower rank is better);
// the ranking hinge on length-normalised log-probs plus the SFT term on the best response, one
// forward pass per group, each group's loss divided by the groups of the whole batch.
#include <torch/torch.h>

#include "common/algorithms/rrhf.h"
#include "common/model/mixed_precision.h"
#include "common/status/status_macros.h"
#include "common/train/offline_updates.h"
#include "common/train/sequence_scoring.h"
#include "common/train/update_support.h"

namespace plumb::train {

absl::StatusOr<StatSums> RrhfUpdate(model::TransformerImpl& policy,
                                    const std::vector<RankedItem>& batch,
                                    const ObjectiveOptions& options, const UpdateContext& context) {
  if (batch.empty()) return absl::InvalidArgumentError("an empty RRHF batch");
  const double groups = static_cast<double>(batch.size());
  at::AutoGradMode grad_mode(context.train && at::GradMode::is_enabled());
  StatSums stats(
      {"loss", "rank_loss", "sft_loss", "logp_margin", "avg_logp_margin", "tokens", "sequences"});
  UpdateContext one_group = context;
  one_group.micro_batch_size = 1;
  RETURN_IF_ERROR(ForEachMicroBatch(one_group, [&](int64_t g, int64_t) -> absl::Status {
    const RankedItem& group = batch[g];
    TokenRows rows;
    std::vector<double> rewards;
    for (size_t r = 0; r < group.responses.size(); ++r) {
      rows.Add(group.prompt, group.responses[r]);
      rewards.push_back(-static_cast<double>(group.ranks[r]));
    }
    SequenceScores s;
    at::Tensor total;
    algorithms::RrhfLoss rrhf;
    at::Tensor reward_tensor;
    {
      model::Bf16AutocastScope autocast(context.bf16_autocast, context.cuda);
      ASSIGN_OR_RETURN(s, ScoreRows(policy, rows));
      reward_tensor = FloatTensor(rewards, s.token_logps.device());
      rrhf = algorithms::ComputeRrhfLoss(s.token_logps, s.mask, reward_tensor, options.rrhf);
      total = options.rrhf.rrhf_weight * rrhf.rank_loss + options.rrhf_sft_weight * rrhf.sft_loss;
    }
    Backpropagate(context, total / groups);
    stats.Add("loss", SumOf(total));
    stats.Add("rank_loss", SumOf(rrhf.rank_loss));
    stats.Add("sft_loss", SumOf(rrhf.sft_loss));
    const int64_t best = reward_tensor.argmax().item<int64_t>();
    const int64_t worst = reward_tensor.argmin().item<int64_t>();
    stats.Add("logp_margin", SumOf(s.sum[best] - s.sum[worst]));
    stats.Add("avg_logp_margin", SumOf(s.sum[best] / s.count[best].clamp_min(1) -
                                       s.sum[worst] / s.count[worst].clamp_min(1)));
    stats.AddCounter("tokens", SumOf(s.count));
    stats.AddCounter("sequences", static_cast<double>(rows.size()));
    return absl::OkStatus();
  }));
  return stats;
}

}  // namespace plumb::train
