// KtoUpdate: KTO on unpaired desirable/undesirable items. The reference point z0 is estimated,
// without gradient, from every item's mismatched pair (the caller's kl_prompt + kl_completion and
// their reference log-prob): each rank scores its own items, the sums are added across ranks,
// so every rank uses the z0 one process computes on the whole batch.
#include <torch/torch.h>

#include "common/model/mixed_precision.h"
#include "common/status/status_macros.h"
#include "common/train/offline_updates.h"
#include "common/train/sequence_scoring.h"
#include "common/train/update_support.h"

namespace plumb::train {
namespace {

// z0 of the whole batch (0-dim float32 on the CPU).
absl::StatusOr<at::Tensor> ReferencePoint(model::TransformerImpl& policy,
                                          const std::vector<UnpairedItem>& batch,
                                          const ObjectiveOptions& options,
                                          const UpdateContext& context) {
  if (!options.kto_mismatched_reference_point) return torch::zeros({});
  torch::NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(batch.size());
  // Rows this rank does not score stay 0 in both, so the sums are the whole batch's.
  at::Tensor policy_kl = torch::zeros({n}, torch::kDouble);
  std::vector<double> ref_kl(n, 0.0);
  RETURN_IF_ERROR(ForEachMicroBatch(context, [&](int64_t a, int64_t b) -> absl::Status {
    TokenRows rows;
    for (int64_t i = a; i < b; ++i) {
      rows.Add(batch[i].kl_prompt, batch[i].kl_completion);
      ref_kl[i] = batch[i].ref_kl_logprob;
    }
    model::Bf16AutocastScope autocast(context.bf16_autocast, context.cuda);
    ASSIGN_OR_RETURN(SequenceScores scores, ScoreRows(policy, rows));
    policy_kl.narrow(0, a, b - a).copy_(scores.sum.to(torch::kCPU).to(torch::kDouble));
    return absl::OkStatus();
  }));
  at::Tensor ref = torch::tensor(ref_kl, torch::kDouble);
  if (context.world->size() > 1) RETURN_IF_ERROR(context.world->AllReduceSum({policy_kl, ref}));
  return algorithms::KtoKlEstimate(policy_kl, ref, options.kto).to(torch::kFloat);
}

}  // namespace

absl::StatusOr<StatSums> KtoUpdate(model::TransformerImpl& policy,
                                   const std::vector<UnpairedItem>& batch,
                                   const ObjectiveOptions& options, const UpdateContext& context) {
  if (batch.empty()) return absl::InvalidArgumentError("an empty KTO batch");
  at::AutoGradMode grad_mode(context.train && at::GradMode::is_enabled());
  ASSIGN_OR_RETURN(const at::Tensor z0, ReferencePoint(policy, batch, options, context));
  const double n = static_cast<double>(batch.size());
  StatSums stats({"loss", "kl", "rewards/chosen", "rewards/rejected", "logps/desirable",
                  "logps/undesirable", "tokens", "sequences"});
  RETURN_IF_ERROR(ForEachMicroBatch(context, [&](int64_t a, int64_t b) -> absl::Status {
    TokenRows rows;
    std::vector<double> refs;
    std::vector<uint8_t> labels;
    for (int64_t i = a; i < b; ++i) {
      rows.Add(batch[i].prompt, batch[i].completion);
      refs.push_back(batch[i].ref_logprob);
      labels.push_back(batch[i].desirable ? 1 : 0);
    }
    SequenceScores policy_scores;
    algorithms::KtoLoss kto;
    at::Tensor label_tensor;
    {
      model::Bf16AutocastScope autocast(context.bf16_autocast, context.cuda);
      ASSIGN_OR_RETURN(policy_scores, ScoreRows(policy, rows));
      const auto device = policy_scores.sum.device();
      label_tensor = torch::tensor(labels, torch::kBool).to(device);
      kto = algorithms::ComputeKtoLoss(policy_scores.sum, FloatTensor(refs, device), label_tensor,
                                       z0.to(device), options.kto);
    }
    Backpropagate(context, kto.losses.sum() / n);
    const double k = static_cast<double>(b - a);
    stats.Add("loss", SumOf(kto.losses), k);
    stats.Add("kl", z0.item<double>() * k, k);
    stats.Add("rewards/chosen", SumOf(kto.chosen_rewards), kto.chosen_rewards.size(0));
    stats.Add("rewards/rejected", SumOf(kto.rejected_rewards), kto.rejected_rewards.size(0));
    const at::Tensor logps = policy_scores.sum.detach();
    stats.Add("logps/desirable", SumOf(logps.index({label_tensor})), SumOf(label_tensor));
    stats.Add("logps/undesirable", SumOf(logps.index({~label_tensor})), SumOf(~label_tensor));
    stats.AddCounter("tokens", SumOf(policy_scores.count));
    stats.AddCounter("sequences", k);
    return absl::OkStatus();
  }));
  return stats;
}

}  // namespace plumb::train
