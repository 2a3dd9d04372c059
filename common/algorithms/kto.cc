#include "common/algorithms/kto.h"

#include <torch/torch.h>

namespace plumb::algorithms {

at::Tensor KtoKlEstimate(const at::Tensor& policy_kl_logps, const at::Tensor& ref_kl_logps,
                         const KtoOptions& options) {
  // A precondition (callers validate first); reached anyway, a ValueError that the model
  // boundary reports as INVALID_ARGUMENT naming the field.
  const absl::Status valid = ValidateKtoOptions(options);
  TORCH_CHECK_VALUE(valid.ok(), valid.message());
  at::NoGradGuard no_grad;
  const at::Tensor ratios = (policy_kl_logps - ref_kl_logps).detach();
  at::Tensor kl;
  if (options.kl_average == "all_rows") {
    kl = ratios.mean();
  } else {
    const at::Tensor nonzero = (ratios != 0).sum().clamp_min(1).to(ratios.scalar_type());
    kl = ratios.sum() / nonzero;
  }
  return kl.clamp_min(0.0);
}

KtoLoss ComputeKtoLoss(const at::Tensor& policy_logps, const at::Tensor& ref_logps,
                       const at::Tensor& labels, const at::Tensor& kl, const KtoOptions& options) {
  // A precondition (callers validate first); reached anyway, a ValueError that the model
  // boundary reports as INVALID_ARGUMENT naming the field.
  const absl::Status valid = ValidateKtoOptions(options);
  TORCH_CHECK_VALUE(valid.ok(), valid.message());
  // An internal invariant (the caller builds these tensors), not a check of caller input.
  TORCH_CHECK(labels.scalar_type() == at::kBool, "ComputeKtoLoss: labels must be bool");
  const at::Tensor z0 = kl.detach();
  const at::Tensor logratio = policy_logps - ref_logps.detach();
  const at::Tensor chosen = logratio.index({labels});
  const at::Tensor rejected = logratio.index({labels.logical_not()});

  KtoLoss out;
  out.chosen_losses = 1.0 - at::sigmoid(options.beta * (chosen - z0));
  out.rejected_losses = 1.0 - at::sigmoid(options.beta * (z0 - rejected));
  out.losses = at::cat({options.desirable_weight * out.chosen_losses,
                        options.undesirable_weight * out.rejected_losses});
  out.loss = out.losses.mean();
  out.chosen_logratios = chosen.detach();
  out.rejected_logratios = rejected.detach();
  out.chosen_rewards = (options.beta * chosen).detach();
  out.rejected_rewards = (options.beta * rejected).detach();
  return out;
}

}  // namespace plumb::algorithms
