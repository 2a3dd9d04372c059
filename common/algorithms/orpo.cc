#include "common/algorithms/orpo.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/algorithms/sequence_logps.h"

namespace plumb::algorithms {

absl::Status ValidateOrpoBeta(double beta) {
  if (std::isfinite(beta) && beta > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("orpo.beta: must be a finite number > 0, got ", beta));
}

OrpoLoss ComputeOrpoLoss(const at::Tensor& chosen_token_logps,
                         const at::Tensor& chosen_completion_mask,
                         const at::Tensor& chosen_nll_mask, const at::Tensor& rejected_token_logps,
                         const at::Tensor& rejected_completion_mask, double beta) {
  // A precondition (callers validate first); reached anyway, a ValueError that the model
  // boundary reports as INVALID_ARGUMENT naming the field.
  const absl::Status valid = ValidateOrpoBeta(beta);
  TORCH_CHECK_VALUE(valid.ok(), valid.message());
  OrpoLoss out;
  out.policy_chosen_logps = LengthAveragedLogps(chosen_token_logps, chosen_completion_mask);
  out.policy_rejected_logps = LengthAveragedLogps(rejected_token_logps, rejected_completion_mask);
  const at::Tensor& a_c = out.policy_chosen_logps;
  const at::Tensor& a_r = out.policy_rejected_logps;
  const at::Tensor log_odds = (a_c - a_r) - (Log1mExp(a_c) - Log1mExp(a_r));
  const at::Tensor ratio = at::log_sigmoid(log_odds);
  out.losses = -beta * ratio;
  out.nll_loss = TokenMeanNll(chosen_token_logps, chosen_nll_mask);
  out.loss = out.nll_loss + out.losses.mean();
  out.chosen_rewards = (beta * a_c).detach();
  out.rejected_rewards = (beta * a_r).detach();
  out.log_odds_ratio = ratio.mean().detach();
  out.log_odds_chosen = log_odds.mean().detach();
  return out;
}

}  // namespace plumb::algorithms
