// ORPO (Hong et al., 2024): NLL on the chosen response plus an odds-ratio term, no reference
// model. With length-averaged completion log-probs a_c, a_r and log odds(a) = a - log(1-e^a):
//   log_odds = (a_c - a_r) - (log1mexp(a_c) - log1mexp(a_r))
//   losses   = -beta * logsigmoid(log_odds)      (per pair, >= 0; TRL's "losses" is -losses)
//   loss     = nll_loss + mean(losses)            (beta is the paper's lambda)
// nll_loss is the token mean over ALL chosen prompt+response tokens of the batch (TRL).
// Matches TRL ORPOTrainer.odds_ratio_loss + get_batch_loss_metrics.
#ifndef PLUMB_COMMON_ALGORITHMS_ORPO_H_
#define PLUMB_COMMON_ALGORITHMS_ORPO_H_

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"

namespace plumb::algorithms {

struct OrpoLoss {
  at::Tensor losses;                 // [B] -beta * logsigmoid(log_odds)
  at::Tensor loss;                   // scalar: nll_loss + mean(losses)
  at::Tensor nll_loss;               // scalar token-mean NLL over chosen_nll_mask
  at::Tensor chosen_rewards;         // [B] beta * a_c, detached
  at::Tensor rejected_rewards;       // [B] beta * a_r, detached
  at::Tensor log_odds_ratio;         // scalar mean(logsigmoid(log_odds)), detached (TRL metric)
  at::Tensor log_odds_chosen;        // scalar mean(log_odds), detached (TRL metric)
  at::Tensor policy_chosen_logps;    // [B] a_c (differentiable)
  at::Tensor policy_rejected_logps;  // [B] a_r (differentiable)
};

// INVALID_ARGUMENT naming orpo.beta unless it is a finite number > 0.
absl::Status ValidateOrpoBeta(double beta);

// Shifted layout [B, T]: position t holds log pi(token_{t+1} | tokens <= t), 0 at padding.
// *_completion_mask marks response tokens; chosen_nll_mask marks every non-padding token of
// prompt + response of the chosen sequence. Precondition: ValidateOrpoBeta(beta).ok(); violations
// throw c10::ValueError (INVALID_ARGUMENT at a model boundary).
OrpoLoss ComputeOrpoLoss(const at::Tensor& chosen_token_logps,
                         const at::Tensor& chosen_completion_mask,
                         const at::Tensor& chosen_nll_mask, const at::Tensor& rejected_token_logps,
                         const at::Tensor& rejected_completion_mask, double beta);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_ORPO_H_
