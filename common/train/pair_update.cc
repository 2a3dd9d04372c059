// PairUpdate: the policy's log-probs of (chosen, rejected) pairs under the DPO family (with the
// caller's reference sums and the optional RPO NLL term), ORPO or SimPO (with the optional CPO
// NLL term). Per-pair losses are divided by the pairs of the whole batch, NLL terms by its NLL
// tokens (TRL's batch token-mean): ORPO's cover the chosen prompt and response (every predicted
// token), SimPO's and RPO's the chosen response.
#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/algorithms/orpo.h"
#include "common/model/mixed_precision.h"
#include "common/status/status_macros.h"
#include "common/train/offline_updates.h"
#include "common/train/sequence_scoring.h"
#include "common/train/update_support.h"

namespace plumb::train {
namespace {

// The weight of the NLL term (0 = none).
double NllWeight(const ObjectiveOptions& o) {
  if (o.kind == "orpo") return 1.0;
  if (o.kind == "simpo") return o.simpo.cpo_alpha;
  return o.dpo_sft_weight;
}

// Tokens the NLL term of one pair averages over.
double NllTokens(const ObjectiveOptions& o, const PairItem& pair) {
  if (o.kind == "orpo") return static_cast<double>(pair.prompt.size() + pair.chosen.size() - 1);
  return static_cast<double>(pair.chosen.size());
}

struct Normalisers {
  double pairs = 0;
  double nll_tokens = 0;
};

struct PairTerms {
  at::Tensor losses;      // [k] the kind's per-pair loss
  at::Tensor nll_sum;     // summed NLL of the chosen sequences' NLL tokens
  double nll_tokens = 0;  // their count
  at::Tensor chosen_rewards, rejected_rewards;
  at::Tensor chosen_sum, chosen_count;  // response log-prob sums and token counts
  at::Tensor rejected_sum, rejected_count;
  double log_odds_ratio = 0;  // ORPO: sum of logsigmoid(log odds)
};

absl::StatusOr<PairTerms> Terms(model::TransformerImpl& policy, const std::vector<PairItem>& batch,
                                int64_t a, int64_t b, const ObjectiveOptions& o) {
  const int64_t k = b - a;
  TokenRows rows;
  for (int64_t i = a; i < b; ++i) rows.Add(batch[i].prompt, batch[i].chosen);
  for (int64_t i = a; i < b; ++i) rows.Add(batch[i].prompt, batch[i].rejected);
  PairTerms t;
  if (o.kind == "orpo") {
    ASSIGN_OR_RETURN(WholeSequenceScores s, ScoreWholeRows(policy, rows));
    const at::Tensor lp = s.all.token_logps;
    const at::Tensor nll_mask = s.all.mask;
    const at::Tensor completion = s.response_mask * s.all.mask;
    algorithms::OrpoLoss orpo = algorithms::ComputeOrpoLoss(
        lp.narrow(0, 0, k), completion.narrow(0, 0, k), nll_mask.narrow(0, 0, k),
        lp.narrow(0, k, k), completion.narrow(0, k, k), o.orpo_beta);
    // orpo.losses = -beta * logsigmoid(log_odds) per pair (the paper's lambda * L_OR).
    t.losses = orpo.losses;
    t.nll_sum = -(lp.narrow(0, 0, k) * nll_mask.narrow(0, 0, k)).sum();
    t.nll_tokens = SumOf(nll_mask.narrow(0, 0, k));
    t.log_odds_ratio = -SumOf(orpo.losses) / o.orpo_beta;
    t.chosen_rewards = orpo.chosen_rewards;
    t.rejected_rewards = orpo.rejected_rewards;
    const at::Tensor response_lp = (lp * completion).detach();
    t.chosen_sum = response_lp.narrow(0, 0, k).sum(1);
    t.rejected_sum = response_lp.narrow(0, k, k).sum(1);
    t.chosen_count = completion.narrow(0, 0, k).sum(1);
    t.rejected_count = completion.narrow(0, k, k).sum(1);
    return t;
  }
  ASSIGN_OR_RETURN(SequenceScores s, ScoreRows(policy, rows));
  t.chosen_sum = s.sum.narrow(0, 0, k);
  t.rejected_sum = s.sum.narrow(0, k, k);
  t.chosen_count = s.count.narrow(0, 0, k);
  t.rejected_count = s.count.narrow(0, k, k);
  t.nll_sum = -t.chosen_sum.sum();
  t.nll_tokens = SumOf(t.chosen_count);
  if (o.kind == "simpo") {
    algorithms::SimpoOptions simpo = o.simpo;
    simpo.cpo_alpha = 0;  // the NLL term is added by the caller, over the whole batch's tokens
    algorithms::SimpoLoss loss =
        algorithms::ComputeSimpoLoss(s.token_logps.narrow(0, 0, k), s.mask.narrow(0, 0, k),
                                     s.token_logps.narrow(0, k, k), s.mask.narrow(0, k, k), simpo);
    t.losses = loss.losses;
    t.chosen_rewards = loss.chosen_rewards;
    t.rejected_rewards = loss.rejected_rewards;
    return t;
  }
  std::vector<double> ref_chosen, ref_rejected;
  for (int64_t i = a; i < b; ++i) {
    ref_chosen.push_back(batch[i].ref_chosen.value_or(0.0));
    ref_rejected.push_back(batch[i].ref_rejected.value_or(0.0));
  }
  const auto device = t.chosen_sum.device();
  algorithms::PreferenceLoss dpo = algorithms::DpoLoss(
      t.chosen_sum, t.rejected_sum, FloatTensor(ref_chosen, device),
      FloatTensor(ref_rejected, device), t.chosen_count, t.rejected_count, o.dpo);
  t.losses = dpo.losses;
  t.chosen_rewards = dpo.chosen_rewards;
  t.rejected_rewards = dpo.rejected_rewards;
  return t;
}

}  // namespace

absl::StatusOr<StatSums> PairUpdate(model::TransformerImpl& policy,
                                    const std::vector<PairItem>& batch,
                                    const ObjectiveOptions& options, const UpdateContext& context) {
  if (options.kind != "dpo" && options.kind != "orpo" && options.kind != "simpo") {
    return absl::InvalidArgumentError(
        absl::StrCat("kind '", options.kind, "' is not a pairwise objective"));
  }
  const double nll_weight = NllWeight(options);
  Normalisers norm;
  for (const PairItem& pair : batch) {
    norm.pairs += 1;
    norm.nll_tokens += NllTokens(options, pair);
  }
  if (norm.pairs == 0) return absl::InvalidArgumentError("a batch with no preference pairs");
  at::AutoGradMode grad_mode(context.train && at::GradMode::is_enabled());
  StatSums stats({"loss", "pair_loss", "rewards/chosen", "rewards/rejected", "rewards/margin",
                  "rewards/accuracy", "logps/chosen", "logps/rejected", "logp_margin",
                  "avg_logp_margin", "tokens", "sequences"});
  if (nll_weight != 0) stats.Add("nll_loss", 0, 0);
  if (options.kind == "orpo") stats.Add("log_odds_ratio", 0, 0);
  RETURN_IF_ERROR(ForEachMicroBatch(context, [&](int64_t a, int64_t b) -> absl::Status {
    const double k = static_cast<double>(b - a);
    PairTerms t;
    at::Tensor loss;
    {
      model::Bf16AutocastScope autocast(context.bf16_autocast, context.cuda);
      ASSIGN_OR_RETURN(t, Terms(policy, batch, a, b, options));
      loss = t.losses.sum() / norm.pairs;
      if (nll_weight != 0) {
        loss = loss + nll_weight * t.nll_sum / std::max(1.0, norm.nll_tokens);
        stats.Add("nll_loss", SumOf(t.nll_sum), t.nll_tokens);
      }
    }
    Backpropagate(context, loss);
    stats.Add("loss", SumOf(loss) * norm.pairs, k);
    stats.AddCounter("pair_loss", SumOf(t.losses));
    if (options.kind == "orpo") stats.Add("log_odds_ratio", t.log_odds_ratio, k);
    AddRewardStats(t.chosen_rewards, t.rejected_rewards, &stats);
    AddLogpMarginStats(t.chosen_sum, t.chosen_count, t.rejected_sum, t.rejected_count, &stats);
    stats.AddCounter("tokens", SumOf(t.chosen_count) + SumOf(t.rejected_count));
    stats.AddCounter("sequences", 2 * k);
    return absl::OkStatus();
  }));
  return stats;
}

}  // namespace plumb::train
