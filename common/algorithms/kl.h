// KL penalties for on-policy RL from a reference model, and the coefficient controllers.
// With d = log pi(a|s) - log pi_ref(a|s) for tokens a sampled from pi (Schulman, "Approximating
// KL divergence", 2020):  k1 = d,  k2 = d^2 / 2,  k3 = exp(-d) - 1 + d  (>= 0, unbiased).
#ifndef PLUMB_COMMON_ALGORITHMS_KL_H_
#define PLUMB_COMMON_ALGORITHMS_KL_H_

#include <cstdint>
#include <optional>
#include <utility>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "common/algorithms/kl_estimator.h"

namespace plumb::algorithms {

// Per-token estimate [B, T] (same shape as the inputs; no masking). The result is clamped to
// [-clamp, clamp] (OpenRLHF compute_approx_kl uses 10); nullopt = Schulman's unclamped form.
// Differentiable w.r.t. both inputs (detach ref_log_probs yourself if it is a constant).
at::Tensor ApproxKl(const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
                    KlEstimator estimator, std::optional<double> clamp = 10.0);

// OpenRLHF compute_reward: reward[b,t] = -max(kl_coef, 0) * kl[b,t] at EVERY position, plus the
// (optionally clipped to [lo, hi]) sequence score scores[b] at the LAST t with action_mask == 1.
// scores [B], kl / action_mask [B, T]; result [B, T]. A row with no valid token gets its score
// at t = T-1 (OpenRLHF's argmax convention). Masked positions keep -coef*kl.
at::Tensor KlShapedReward(const at::Tensor& scores, const at::Tensor& kl,
                          const at::Tensor& action_mask, double kl_coef,
                          std::optional<std::pair<double, double>> reward_clip = std::nullopt);

struct KlControllerOptions {
  double init_kl_coef = 0.01;
  // Unset: a fixed coefficient. Set: Ziegler et al. (2019)'s adaptive controller, which steers
  // the observed KL toward target_kl over `horizon` steps.
  std::optional<double> target_kl;
  double horizon = 10000;
};

// The KL coefficient beta. Adaptive update (Ziegler et al. 2019, sec. 2.2):
//   e = clip(current_kl / target_kl - 1, -0.2, 0.2);  beta *= 1 + e * n_steps / horizon.
// Not thread-safe: owned by the trainer thread. State is value() (checkpoint it; restore with
// init_kl_coef = value()).
class KlController {
 public:
  // INVALID_ARGUMENT for init_kl_coef < 0, target_kl <= 0 or horizon <= 0.
  static absl::StatusOr<KlController> Create(const KlControllerOptions& options);
  static KlController Fixed(double kl_coef);

  double value() const { return value_; }
  bool adaptive() const { return target_kl_.has_value(); }
  // current_kl: the mean per-sequence KL of the last batch; n_steps: samples (or steps) it
  // covered. No-op for a fixed controller.
  void Update(double current_kl, int64_t n_steps);

 private:
  KlController(double value, std::optional<double> target_kl, double horizon)
      : value_(value), target_kl_(target_kl), horizon_(horizon) {}
  double value_;
  std::optional<double> target_kl_;
  double horizon_;
};

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_KL_H_
