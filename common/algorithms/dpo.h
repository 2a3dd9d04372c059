// Direct Preference Optimisation (Rafailov et al., 2023) and its variants on SEQUENCE log-probs
// (sums over response tokens, prompt excluded). With the implicit reward margin
//   h = (pi_c - pi_r) - (ref_c - ref_r)            (ref term 0 when reference_free)
// the per-pair losses are
//   sigmoid: -(1-e) logsigmoid(beta h) - e logsigmoid(-beta h)   (e = label_smoothing: cDPO)
//   robust:  (-(1-e) logsigmoid(beta h) + e logsigmoid(-beta h)) / (1 - 2e)   (TRL "robust")
//   hinge:   relu(1 - beta h)                                     (SLiC)
//   ipo:     (h - 1/(2 beta))^2, beta = tau; with ipo_log_ratio "mean" each log-ratio is first
//            divided by max(length, 1) (TRL); "sum" is the IPO paper and the DPO authors' code.
// Matches eric-mitchell/direct-preference-optimization preference_loss and TRL DPOTrainer.
#ifndef PLUMB_COMMON_ALGORITHMS_DPO_H_
#define PLUMB_COMMON_ALGORITHMS_DPO_H_

#include <ATen/core/Tensor.h>

#include "common/algorithms/dpo_options.h"

namespace plumb::algorithms {

struct PreferenceLoss {
  at::Tensor losses;            // [B] per pair, minimised
  at::Tensor loss;              // scalar: mean of losses
  at::Tensor chosen_rewards;    // [B] beta * (pi_c - ref_c), detached
  at::Tensor rejected_rewards;  // [B] beta * (pi_r - ref_r), detached
};

// All log-prob inputs [B]. chosen_lengths / rejected_lengths [B] (completion token counts) are
// read only by ipo with ipo_log_ratio "mean" and may be undefined otherwise. Differentiable
// w.r.t. the policy log-probs; reference inputs are treated as constants (detached).
// Precondition: ValidateDpoOptions(options).ok(); violations throw c10::ValueError
// (INVALID_ARGUMENT at a model boundary).
PreferenceLoss DpoLoss(const at::Tensor& policy_chosen_logps,
                       const at::Tensor& policy_rejected_logps, const at::Tensor& ref_chosen_logps,
                       const at::Tensor& ref_rejected_logps, const at::Tensor& chosen_lengths,
                       const at::Tensor& rejected_lengths, const DpoOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_DPO_H_
