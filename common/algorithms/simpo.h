// SimPO (Meng et al., 2024): reference-free margin loss on LENGTH-AVERAGED completion
// log-probs a_c, a_r with target margin gamma:
//   z = beta * (a_c - a_r) - gamma
//   losses = -(1-ls) logsigmoid(z) - ls logsigmoid(-z)
//   loss = mean(losses) + cpo_alpha * nll_loss    (cpo_alpha = 0 is pure SimPO; CPO-SimPO > 0)
// nll_loss = token-mean NLL over the chosen COMPLETION tokens of the batch, reported as 0 when
// cpo_alpha == 0 (TRL does not compute it then). Matches TRL CPOTrainer (loss_type "simpo").
#ifndef PLUMB_COMMON_ALGORITHMS_SIMPO_H_
#define PLUMB_COMMON_ALGORITHMS_SIMPO_H_

#include <ATen/core/Tensor.h>

#include "common/algorithms/simpo_options.h"

namespace plumb::algorithms {

struct SimpoLoss {
  at::Tensor losses;                 // [B]
  at::Tensor loss;                   // scalar
  at::Tensor nll_loss;               // scalar (0 when cpo_alpha == 0)
  at::Tensor chosen_rewards;         // [B] beta * a_c, detached
  at::Tensor rejected_rewards;       // [B] beta * a_r, detached
  at::Tensor policy_chosen_logps;    // [B] a_c
  at::Tensor policy_rejected_logps;  // [B] a_r
};

// Shifted layout [B, T] as in orpo.h; token log-probs 0 outside the completion mask.
// Precondition: ValidateSimpoOptions(options).ok(); violations throw c10::ValueError
// (INVALID_ARGUMENT at a model boundary).
SimpoLoss ComputeSimpoLoss(const at::Tensor& chosen_token_logps,
                           const at::Tensor& chosen_completion_mask,
                           const at::Tensor& rejected_token_logps,
                           const at::Tensor& rejected_completion_mask, const SimpoOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_SIMPO_H_
