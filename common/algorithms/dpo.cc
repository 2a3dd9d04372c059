#include "common/algorithms/dpo.h"

#include <torch/torch.h>

namespace plumb::algorithms {

PreferenceLoss DpoLoss(const at::Tensor& policy_chosen_logps,
                       const at::Tensor& policy_rejected_logps, const at::Tensor& ref_chosen_logps,
                       const at::Tensor& ref_rejected_logps, const at::Tensor& chosen_lengths,
                       const at::Tensor& rejected_lengths, const DpoOptions& options) {
  // A precondition (callers validate first); reached anyway, a ValueError that the model
  // boundary reports as INVALID_ARGUMENT naming the field.
  const absl::Status valid = ValidateDpoOptions(options);
  TORCH_CHECK_VALUE(valid.ok(), valid.message());
  const double beta = options.beta;
  const double eps = options.label_smoothing;
  const at::Tensor ref_c = ref_chosen_logps.detach();
  const at::Tensor ref_r = ref_rejected_logps.detach();

  // Per-response log-ratios; the reference-free variant drops the reference from h only.
  at::Tensor chosen_ratio =
      options.reference_free ? policy_chosen_logps : policy_chosen_logps - ref_c;
  at::Tensor rejected_ratio =
      options.reference_free ? policy_rejected_logps : policy_rejected_logps - ref_r;

  at::Tensor losses;
  if (options.loss_type == "ipo") {
    if (options.ipo_log_ratio == "mean") {
      // An internal invariant (the caller builds these tensors), not a check of caller input.
      TORCH_CHECK(chosen_lengths.defined() && rejected_lengths.defined(),
                  "DpoLoss: ipo with ipo_log_ratio 'mean' needs chosen/rejected lengths");
      chosen_ratio = chosen_ratio / chosen_lengths.clamp_min(1).to(chosen_ratio.scalar_type());
      rejected_ratio =
          rejected_ratio / rejected_lengths.clamp_min(1).to(rejected_ratio.scalar_type());
    }
    losses = (chosen_ratio - rejected_ratio - 1.0 / (2.0 * beta)).pow(2);
  } else {
    const at::Tensor logits = beta * (chosen_ratio - rejected_ratio);
    if (options.loss_type == "sigmoid") {
      losses = -(1.0 - eps) * at::log_sigmoid(logits) - eps * at::log_sigmoid(-logits);
    } else if (options.loss_type == "robust") {
      losses = (-(1.0 - eps) * at::log_sigmoid(logits) + eps * at::log_sigmoid(-logits)) /
               (1.0 - 2.0 * eps);
    } else {  // hinge
      losses = at::relu(1.0 - logits);
    }
  }

  PreferenceLoss out;
  out.losses = losses;
  out.loss = losses.mean();
  out.chosen_rewards = (beta * (policy_chosen_logps - ref_c)).detach();
  out.rejected_rewards = (beta * (policy_rejected_logps - ref_r)).detach();
  return out;
}

}  // namespace plumb::algorithms
