// Objectives on the policy's log-probs of (chosen, rejected) pairs: the DPO family (with a frozen
// reference), ORPO and SimPO (reference-free). Each pair's loss is divided by the pairs of the
// global batch; the NLL terms of ORPO (prompt + response tokens of chosen) and SimPO (chosen
// response tokens, times cpo_alpha) by the tokens of the global batch, as TRL's batch token-mean.
#include <torch/torch.h>

#include "common/algorithms/orpo.h"
#include "common/status/status_macros.h"
#include "common/train/objective_factories.h"
#include "common/train/objective_support.h"
#include "common/train/sequence_scoring.h"

namespace plumb::train {
namespace {

class PairObjective : public Objective {
 public:
  PairObjective(const ObjectiveOptions& options, ObjectiveModels models,
                const ExampleEncoder* encoder)
      : options_(options), models_(models), encoder_(encoder) {}

  absl::Status AccumulateGradients(const StepContext& ctx, StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<EncodedPair> all,
                     EncodePairs(*encoder_, *ctx.batch, 0, ctx.batch->size(), options_.kind));
    Normalisers norm;
    for (const EncodedPair& pair : all) {
      norm.pairs += 1;
      norm.orpo_tokens += pair.chosen.prompt.size() + pair.chosen.response.size() - 1;
      norm.simpo_tokens += pair.chosen.response.size();
    }
    if (norm.pairs == 0) return absl::InvalidArgumentError("a batch with no preference pairs");
    // This rank's pairs: those of examples [begin, end).
    ASSIGN_OR_RETURN(std::vector<EncodedPair> pairs,
                     EncodePairs(*encoder_, *ctx.batch, ctx.begin, ctx.end, options_.kind));
    return ForEachChunk(0, pairs.size(), ctx.micro_batch_size, [&](int64_t a, int64_t b) {
      AutocastScope autocast(ctx.bf16_autocast, models_.cuda);
      ASSIGN_OR_RETURN(at::Tensor loss, Loss(pairs, a, b, norm, stats));
      loss.backward();
      tokens_seen_ += PairTokens(pairs, a, b);
      return absl::OkStatus();
    });
  }

  absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                        StatSums* stats) override {
    ASSIGN_OR_RETURN(std::vector<EncodedPair> pairs,
                     EncodePairs(*encoder_, examples, 0, examples.size(), options_.kind));
    Normalisers norm;  // per-batch means are fine for reporting
    torch::NoGradGuard no_grad;
    return ForEachChunk(0, pairs.size(), batch_size, [&](int64_t a, int64_t b) {
      norm.pairs = b - a;
      norm.orpo_tokens = norm.simpo_tokens = 0;
      for (int64_t i = a; i < b; ++i) {
        norm.orpo_tokens += pairs[i].chosen.prompt.size() + pairs[i].chosen.response.size() - 1;
        norm.simpo_tokens += pairs[i].chosen.response.size();
      }
      return Loss(pairs, a, b, norm, stats).status();
    });
  }

 private:
  struct Normalisers {
    double pairs = 0;
    double orpo_tokens = 0;   // ORPO's NLL: every predicted token of chosen sequences
    double simpo_tokens = 0;  // SimPO's NLL: chosen response tokens
  };

  // The loss of pairs [a, b) scaled by the global normalisers, and its statistics.
  absl::StatusOr<at::Tensor> Loss(const std::vector<EncodedPair>& pairs, int64_t a, int64_t b,
                                  const Normalisers& norm, StatSums* stats) {
    const int64_t n = b - a;
    const std::vector<const EncodedSequence*> seqs = ChosenThenRejected(pairs, a, b);
    if (options_.kind == "orpo") {
      ASSIGN_OR_RETURN(WholeSequenceScores s, ScoreWholeSequences(*models_.policy, seqs));
      const at::Tensor lp = s.all.token_logps;
      const at::Tensor nll_mask = s.all.mask;
      const at::Tensor completion = s.response_mask * s.all.mask;
      algorithms::OrpoLoss orpo = algorithms::ComputeOrpoLoss(
          lp.narrow(0, 0, n), completion.narrow(0, 0, n), nll_mask.narrow(0, 0, n),
          lp.narrow(0, n, n), completion.narrow(0, n, n), options_.orpo_beta);
      const at::Tensor nll_sum = -(lp.narrow(0, 0, n) * nll_mask.narrow(0, 0, n)).sum();
      // orpo.losses = -beta * logsigmoid(log_odds) per pair (the paper's lambda * L_OR).
      const at::Tensor loss = nll_sum / norm.orpo_tokens + orpo.losses.sum() / norm.pairs;
      stats->Add("loss", SumOf(loss) * norm.pairs, n);
      stats->Add("nll_loss", SumOf(nll_sum), SumOf(nll_mask.narrow(0, 0, n)));
      stats->Add("log_odds_ratio", -SumOf(orpo.losses) / options_.orpo_beta, n);
      AddRewardStats(orpo.chosen_rewards, orpo.rejected_rewards, stats);
      const at::Tensor resp_lp = lp * completion;
      AddLogpMarginStats(resp_lp.narrow(0, 0, n).sum(1), completion.narrow(0, 0, n).sum(1),
                         resp_lp.narrow(0, n, n).sum(1), completion.narrow(0, n, n).sum(1), stats);
      return loss;
    }
    ASSIGN_OR_RETURN(SequenceScores s, ScoreResponses(*models_.policy, seqs));
    const at::Tensor chosen_sum = s.sum.narrow(0, 0, n), rejected_sum = s.sum.narrow(0, n, n);
    const at::Tensor chosen_count = s.count.narrow(0, 0, n),
                     rejected_count = s.count.narrow(0, n, n);
    AddLogpMarginStats(chosen_sum, chosen_count, rejected_sum, rejected_count, stats);
    if (options_.kind == "simpo") {
      algorithms::SimpoLoss simpo = algorithms::ComputeSimpoLoss(
          s.token_logps.narrow(0, 0, n), s.mask.narrow(0, 0, n), s.token_logps.narrow(0, n, n),
          s.mask.narrow(0, n, n), options_.simpo);
      at::Tensor loss = simpo.losses.sum() / norm.pairs;
      if (options_.simpo.cpo_alpha != 0) {
        loss = loss + options_.simpo.cpo_alpha * (-chosen_sum.sum()) / norm.simpo_tokens;
        stats->Add("nll_loss", SumOf(-chosen_sum), SumOf(chosen_count));
      }
      stats->Add("loss", SumOf(loss) * norm.pairs, n);
      AddRewardStats(simpo.chosen_rewards, simpo.rejected_rewards, stats);
      return loss;
    }
    // DPO family.
    at::Tensor ref_chosen = torch::zeros_like(chosen_sum), ref_rejected = ref_chosen;
    if (models_.reference != nullptr) {
      torch::NoGradGuard no_grad;
      ASSIGN_OR_RETURN(SequenceScores r, ScoreResponses(*models_.reference, seqs));
      ref_chosen = r.sum.narrow(0, 0, n);
      ref_rejected = r.sum.narrow(0, n, n);
    }
    algorithms::PreferenceLoss dpo =
        algorithms::DpoLoss(chosen_sum, rejected_sum, ref_chosen, ref_rejected, chosen_count,
                            rejected_count, options_.dpo);
    const at::Tensor loss = dpo.losses.sum() / norm.pairs;
    stats->Add("loss", SumOf(dpo.losses), n);
    AddRewardStats(dpo.chosen_rewards, dpo.rejected_rewards, stats);
    return loss;
  }

  ObjectiveOptions options_;
  ObjectiveModels models_;
  const ExampleEncoder* encoder_;
};

}  // namespace

std::unique_ptr<Objective> MakePairObjective(const ObjectiveOptions& options,
                                             ObjectiveModels models,
                                             const ExampleEncoder* encoder) {
  return std::make_unique<PairObjective>(options, models, encoder);
}

}  // namespace plumb::train
