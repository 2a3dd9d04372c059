// PPO actor and critic losses (OpenRLHF PolicyLoss / ValueLoss) and entropy statistics.
#ifndef PLUMB_COMMON_ALGORITHMS_POLICY_LOSS_H_
#define PLUMB_COMMON_ALGORITHMS_POLICY_LOSS_H_

#include <optional>

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"
#include "common/algorithms/kl.h"

namespace plumb::algorithms {

struct PolicyLossOptions {
  double clip_eps_low = 0.2;
  double clip_eps_high = 0.2;       // > clip_eps_low is DAPO's "clip higher"
  std::optional<double> dual_clip;  // c > 1 (Ye et al., 2020); bounds the loss for A < 0
  // true: masked mean over all tokens of the batch; false: mean over sequences (with >= 1 valid
  // token) of each sequence's masked token mean.
  bool token_level = true;
  // GRPO-style KL penalty in the loss: loss += kl_loss_coef * masked_mean(kl(log_probs,
  // ref_log_probs)) with kl_loss_estimator (k3 in GRPO), reduced like the surrogate. Needs
  // ref_log_probs when > 0.
  double kl_loss_coef = 0.0;
  KlEstimator kl_loss_estimator = KlEstimator::kK3;
  std::optional<double> kl_loss_clamp = 10.0;
};

// INVALID_ARGUMENT for negative clip eps, clip_eps_low >= 1, dual_clip <= 1, kl_loss_coef < 0.
absl::Status ValidatePolicyLossOptions(const PolicyLossOptions& options);

struct PolicyLossResult {
  at::Tensor loss;        // scalar, minimised (includes the KL term when kl_loss_coef > 0)
  at::Tensor clip_ratio;  // scalar, detached: masked mean over tokens of (surr2 < surr1)
  at::Tensor approx_kl;   // scalar, detached: masked mean of old_log_probs - log_probs
  at::Tensor kl_loss;     // scalar, detached: the masked KL term (0 when kl_loss_coef == 0)
};

// Clipped surrogate with ratio = exp(clamp(log_probs - old_log_probs, -20, 20)):
//   surr1 = ratio A,  surr2 = clamp(ratio, 1 - eps_low, 1 + eps_high) A,
//   per-token loss = -min(surr1, surr2); with dual clip c: -max(min(surr1, surr2), c A) where
//   A < 0. All inputs [B, T]; advantages and old_log_probs are constants. Differentiable w.r.t.
// log_probs. Precondition: ValidatePolicyLossOptions(options).ok(); violations throw
// c10::ValueError (INVALID_ARGUMENT at a model boundary).
PolicyLossResult PpoPolicyLoss(const at::Tensor& log_probs, const at::Tensor& old_log_probs,
                               const at::Tensor& advantages, const at::Tensor& action_mask,
                               const PolicyLossOptions& options,
                               const at::Tensor& ref_log_probs = at::Tensor());

// 0.5 * reduce(max((V_clip - R)^2, (V - R)^2)) with V_clip = V_old + clamp(V - V_old, +-eps);
// without clip_eps: 0.5 * reduce((V - R)^2). Reduction as PolicyLossOptions::token_level.
// values, old_values, returns, action_mask: [B, T].
at::Tensor ClippedValueLoss(const at::Tensor& values, const at::Tensor& old_values,
                            const at::Tensor& returns, const at::Tensor& action_mask,
                            std::optional<double> clip_eps, bool token_level);

// Masked mean over tokens of the entropy H = logsumexp(z) - sum softmax(z) z of the logits
// [B, T, V]; mask [B, T]. Computed in the logits' dtype; detach it for logging.
at::Tensor MaskedEntropy(const at::Tensor& logits, const at::Tensor& mask);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_POLICY_LOSS_H_
