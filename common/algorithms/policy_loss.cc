#include "common/algorithms/policy_loss.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/algorithms/masking.h"

namespace plumb::algorithms {
namespace {

at::Tensor Reduce(const at::Tensor& per_token, const at::Tensor& mask, bool token_level) {
  return token_level ? MaskedMean(per_token, mask) : SequenceMeanOfMaskedMeans(per_token, mask);
}

}  // namespace

absl::Status ValidatePolicyLossOptions(const PolicyLossOptions& options) {
  if (!(options.clip_eps_low >= 0.0 && options.clip_eps_low < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ppo.clip_eps_low: must be in [0, 1), got ", options.clip_eps_low));
  }
  if (!(options.clip_eps_high >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ppo.clip_eps_high: must be >= 0, got ", options.clip_eps_high));
  }
  if (options.dual_clip.has_value() && !(*options.dual_clip > 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ppo.dual_clip: must be > 1 (or unset), got ", *options.dual_clip));
  }
  if (!(options.kl_loss_coef >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ppo.kl_loss_coef: must be >= 0, got ", options.kl_loss_coef));
  }
  return absl::OkStatus();
}

PolicyLossResult PpoPolicyLoss(const at::Tensor& log_probs, const at::Tensor& old_log_probs,
                               const at::Tensor& advantages, const at::Tensor& action_mask,
                               const PolicyLossOptions& options, const at::Tensor& ref_log_probs) {
  // A precondition (callers validate first); reached anyway, a ValueError that the model
  // boundary reports as INVALID_ARGUMENT naming the field.
  const absl::Status valid = ValidatePolicyLossOptions(options);
  TORCH_CHECK_VALUE(valid.ok(), valid.message());
  const at::Tensor old = old_log_probs.detach();
  const at::Tensor adv = advantages.detach();
  const at::Tensor ratio = at::exp((log_probs - old).clamp(-20.0, 20.0));
  const at::Tensor surr1 = ratio * adv;
  const at::Tensor surr2 =
      ratio.clamp(1.0 - options.clip_eps_low, 1.0 + options.clip_eps_high) * adv;
  at::Tensor per_token = -at::min(surr1, surr2);
  if (options.dual_clip.has_value()) {
    const at::Tensor dual = -at::max(at::min(surr1, surr2), *options.dual_clip * adv);
    per_token = at::where(adv < 0, dual, per_token);
  }

  PolicyLossResult out;
  out.loss = Reduce(per_token, action_mask, options.token_level);
  if (options.kl_loss_coef > 0.0) {
    // An internal invariant (the caller builds these tensors), not a check of caller input.
    TORCH_CHECK(ref_log_probs.defined(), "PpoPolicyLoss: kl_loss_coef > 0 needs ref_log_probs");
    const at::Tensor kl = ApproxKl(log_probs, ref_log_probs.detach(), options.kl_loss_estimator,
                                   options.kl_loss_clamp);
    const at::Tensor kl_loss = Reduce(kl, action_mask, options.token_level);
    out.loss = out.loss + options.kl_loss_coef * kl_loss;
    out.kl_loss = kl_loss.detach();
  } else {
    out.kl_loss = at::zeros({}, out.loss.options().requires_grad(false));
  }
  {
    at::NoGradGuard no_grad;
    out.clip_ratio = MaskedMean((surr2 < surr1).to(surr1.scalar_type()), action_mask).detach();
    out.approx_kl = MaskedMean(old - log_probs, action_mask).detach();
  }
  return out;
}

at::Tensor ClippedValueLoss(const at::Tensor& values, const at::Tensor& old_values,
                            const at::Tensor& returns, const at::Tensor& action_mask,
                            std::optional<double> clip_eps, bool token_level) {
  const at::Tensor ret = returns.detach();
  at::Tensor per_token;
  if (clip_eps.has_value()) {
    const at::Tensor old = old_values.detach();
    const at::Tensor clipped = old + (values - old).clamp(-*clip_eps, *clip_eps);
    per_token = at::max((clipped - ret).pow(2), (values - ret).pow(2));
  } else {
    per_token = (values - ret).pow(2);
  }
  return 0.5 * Reduce(per_token, action_mask, token_level);
}

at::Tensor MaskedEntropy(const at::Tensor& logits, const at::Tensor& mask) {
  const at::Tensor log_p = at::log_softmax(logits, -1);
  const at::Tensor entropy = -(log_p.exp() * log_p).sum(-1);
  return MaskedMean(entropy, mask);
}

}  // namespace plumb::algorithms
