#include "common/algorithms/simpo.h"

#include <torch/torch.h>

#include "common/algorithms/sequence_logps.h"

namespace plumb::algorithms {

SimpoLoss ComputeSimpoLoss(const at::Tensor& chosen_token_logps,
                           const at::Tensor& chosen_completion_mask,
                           const at::Tensor& rejected_token_logps,
                           const at::Tensor& rejected_completion_mask,
                           const SimpoOptions& options) {
  // A precondition (callers validate first); reached anyway, a ValueError that the model
  // boundary reports as INVALID_ARGUMENT naming the field.
  const absl::Status valid = ValidateSimpoOptions(options);
  TORCH_CHECK_VALUE(valid.ok(), valid.message());
  SimpoLoss out;
  out.policy_chosen_logps = LengthAveragedLogps(chosen_token_logps, chosen_completion_mask);
  out.policy_rejected_logps = LengthAveragedLogps(rejected_token_logps, rejected_completion_mask);
  const double beta = options.beta;
  const double ls = options.label_smoothing;
  // TRL writes beta * ((a_c - a_r) - gamma / beta); identical up to rounding.
  const at::Tensor logits =
      (out.policy_chosen_logps - out.policy_rejected_logps) - options.gamma / beta;
  out.losses = -(1.0 - ls) * at::log_sigmoid(beta * logits) - ls * at::log_sigmoid(-beta * logits);
  if (options.cpo_alpha != 0.0) {
    out.nll_loss = TokenMeanNll(chosen_token_logps, chosen_completion_mask);
    out.loss = out.losses.mean() + options.cpo_alpha * out.nll_loss;
  } else {
    out.nll_loss = at::zeros({}, out.losses.options());
    out.loss = out.losses.mean();
  }
  out.chosen_rewards = (beta * out.policy_chosen_logps).detach();
  out.rejected_rewards = (beta * out.policy_rejected_logps).detach();
  return out;
}

}  // namespace plumb::algorithms
