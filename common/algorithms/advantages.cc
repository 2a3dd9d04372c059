#include "common/algorithms/advantages.h"

#include <algorithm>
#include <vector>

#include <torch/torch.h>

#include "common/algorithms/masking.h"

namespace plumb::algorithms {

GaeResult Gae(const at::Tensor& values, const at::Tensor& rewards, const at::Tensor& action_mask,
              double gamma, double lambd) {
  // A shape precondition: an internal invariant (the caller builds these tensors).
  TORCH_CHECK(values.dim() == 2 && values.sizes() == rewards.sizes() &&
                  values.sizes() == action_mask.sizes(),
              "Gae: values, rewards and action_mask must all be [B, T]");
  const at::Tensor v = values * action_mask;
  const at::Tensor r = rewards * action_mask;
  const int64_t length = v.size(1);
  std::vector<at::Tensor> reversed;
  reversed.reserve(length);
  at::Tensor last = at::zeros_like(v.select(1, 0));
  for (int64_t t = length - 1; t >= 0; --t) {
    const at::Tensor next_value = t + 1 < length ? v.select(1, t + 1) : at::zeros_like(last);
    const at::Tensor delta = r.select(1, t) + gamma * next_value - v.select(1, t);
    last = delta + gamma * lambd * last;
    reversed.push_back(last);
  }
  std::reverse(reversed.begin(), reversed.end());
  GaeResult out;
  out.advantages = at::stack(reversed, 1);
  out.returns = out.advantages + v;
  return out;
}

at::Tensor CumulativeReturns(const at::Tensor& rewards, const at::Tensor& action_mask,
                             double gamma) {
  // A shape precondition: an internal invariant (the caller builds these tensors).
  TORCH_CHECK(rewards.dim() == 2 && rewards.sizes() == action_mask.sizes(),
              "CumulativeReturns: rewards and action_mask must be [B, T]");
  const at::Tensor r = rewards * action_mask;
  const int64_t length = r.size(1);
  std::vector<at::Tensor> reversed;
  reversed.reserve(length);
  at::Tensor running = at::zeros_like(r.select(1, 0));
  for (int64_t t = length - 1; t >= 0; --t) {
    running = r.select(1, t) + gamma * running;
    reversed.push_back(running);
  }
  std::reverse(reversed.begin(), reversed.end());
  return at::stack(reversed, 1);
}

at::Tensor WhitenAdvantages(const at::Tensor& x, const at::Tensor& mask, WhitenStyle style,
                            bool shift_mean, bool no_std_norm, double eps) {
  const at::Tensor mean = MaskedMean(x, mask);
  const at::Tensor centered = x - mean;
  at::Tensor whitened = centered;
  if (!no_std_norm) {
    at::Tensor var = MaskedMean(centered.pow(2), mask);
    if (style == WhitenStyle::kOpenRlhf) {
      whitened = centered * at::rsqrt(var.clamp_min(eps));
    } else {
      const at::Tensor n = mask.sum().to(var.scalar_type());
      // Depends on the data (the mask), not on the code: a ValueError, INVALID_ARGUMENT at the
      // model boundary.
      TORCH_CHECK_VALUE(n.item<double>() > 1.0,
                        "WhitenAdvantages(kTrl): needs >= 2 valid elements");
      var = var * n / (n - 1.0);
      whitened = centered * at::rsqrt(var + eps);
    }
  }
  if (!shift_mean) whitened = whitened + mean;
  return whitened;
}

at::Tensor ZeroFillPadding(const at::Tensor& x, const at::Tensor& mask) {
  return at::where(mask != 0, x, at::zeros_like(x));
}

at::Tensor WhitenBatch(const at::Tensor& x, bool subtract_mean, double eps) {
  if (x.numel() < 2) return x;
  const at::Tensor std = x.std() + eps;
  return subtract_mean ? (x - x.mean()) / std : x / std;
}

PpoAdvantages ComputePpoAdvantages(const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
                                   const at::Tensor& values, const at::Tensor& scores,
                                   const at::Tensor& action_mask,
                                   const PpoAdvantageOptions& options) {
  at::NoGradGuard no_grad;
  PpoAdvantages out;
  out.kl = ApproxKl(log_probs, ref_log_probs, options.kl_estimator, options.kl_clamp);
  out.shaped_reward =
      KlShapedReward(scores, out.kl, action_mask, options.kl_coef, options.reward_clip);
  GaeResult gae = Gae(values, out.shaped_reward, action_mask, options.gamma, options.lambd);
  out.returns = gae.returns;
  out.advantages = options.whiten
                       ? WhitenAdvantages(gae.advantages, action_mask, WhitenStyle::kOpenRlhf,
                                          /*shift_mean=*/true, options.no_std_norm)
                       : gae.advantages;
  return out;
}

}  // namespace plumb::algorithms
