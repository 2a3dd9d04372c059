// Kahneman-Tversky Optimisation (Ethayarajh et al., 2024) on unpaired examples. With the
// sequence log-ratio r = pi(y|x) - ref(y|x) (SUMMED completion log-probs) and the reference
// point z0 = kl (a detached, clamped-at-0 estimate of KL(pi || ref) from mismatched pairs):
//   desirable:   w_d * (1 - sigmoid(beta (r - z0)))
//   undesirable: w_u * (1 - sigmoid(beta (z0 - r)))
// losses are ordered all desirable rows (batch order) then all undesirable; loss = mean.
// Matches TRL KTOTrainer (loss_type "kto") and ContextualAI HALOs KTOTrainer.
#ifndef PLUMB_COMMON_ALGORITHMS_KTO_H_
#define PLUMB_COMMON_ALGORITHMS_KTO_H_

#include <ATen/core/Tensor.h>

#include "common/algorithms/kto_options.h"

namespace plumb::algorithms {

// z0 = clamp(average_i(policy_kl_logps_i - ref_kl_logps_i), min=0), detached, 0-dim.
// Inputs [B]: summed log-probs of the mismatched (prompt i, completion j != i) pairs. In
// distributed training, all-gather them first so every rank uses the same z0.
at::Tensor KtoKlEstimate(const at::Tensor& policy_kl_logps, const at::Tensor& ref_kl_logps,
                         const KtoOptions& options);

struct KtoLoss {
  at::Tensor losses;              // [B] weighted, desirable rows first
  at::Tensor loss;                // scalar mean of losses
  at::Tensor chosen_losses;       // [n_desirable] unweighted 1 - sigmoid(beta (r - z0))
  at::Tensor rejected_losses;     // [n_undesirable] unweighted 1 - sigmoid(beta (z0 - r))
  at::Tensor chosen_rewards;      // [n_desirable] beta * r, detached (TRL's metric)
  at::Tensor rejected_rewards;    // [n_undesirable] beta * r, detached
  at::Tensor chosen_logratios;    // [n_desirable] r, detached (HALOs reports these as rewards)
  at::Tensor rejected_logratios;  // [n_undesirable] r, detached
};

// policy_logps, ref_logps: [B] summed completion log-probs; labels: [B] bool (true =
// desirable); kl: 0-dim z0 from KtoKlEstimate (treated as a constant). Differentiable w.r.t.
// policy_logps. Precondition: ValidateKtoOptions(options).ok(); violations throw
// c10::ValueError (INVALID_ARGUMENT at a model boundary).
KtoLoss ComputeKtoLoss(const at::Tensor& policy_logps, const at::Tensor& ref_logps,
                       const at::Tensor& labels, const at::Tensor& kl, const KtoOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_KTO_H_
