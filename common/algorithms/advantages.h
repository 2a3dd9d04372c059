// Advantage estimation for PPO: GAE, whitening, and OpenRLHF's end-to-end pipeline
// (KL -> KL-shaped reward -> GAE -> whitening). These produce training targets: call them on
// detached tensors (the pipeline runs under NoGradGuard).
#ifndef PLUMB_COMMON_ALGORITHMS_ADVANTAGES_H_
#define PLUMB_COMMON_ALGORITHMS_ADVANTAGES_H_

#include <optional>
#include <utility>

#include <ATen/core/Tensor.h>

#include "common/algorithms/kl.h"

namespace plumb::algorithms {

struct GaeResult {
  at::Tensor advantages;  // [B, T], 0 after the last valid token
  at::Tensor returns;     // [B, T] advantages + masked values
};

// Generalised Advantage Estimation (Schulman et al., 2016) on right-padded rows, as OpenRLHF:
// values and rewards are first multiplied by action_mask, then for t = T-1..0
//   delta_t = r_t + gamma V_{t+1} - V_t  (V_T = 0),  A_t = delta_t + gamma lambd A_{t+1}.
// values, rewards, action_mask: [B, T].
GaeResult Gae(const at::Tensor& values, const at::Tensor& rewards, const at::Tensor& action_mask,
              double gamma, double lambd);

// Discounted reward-to-go on masked rewards: G_t = sum_{s>=t} gamma^(s-t) r_s m_s. [B, T].
at::Tensor CumulativeReturns(const at::Tensor& rewards, const at::Tensor& action_mask,
                             double gamma);

enum class WhitenStyle {
  // OpenRLHF: mean and POPULATION variance over the valid tokens of the whole batch,
  // (x - mean) * rsqrt(max(var, eps)), applied to EVERY position (padding is not zeroed).
  kOpenRlhf,
  // TRL masked_whiten: mean and UNBIASED variance (n/(n-1)) over valid tokens,
  // (x - mean) * rsqrt(var + eps); combine with ZeroFillPadding as TRL's PPOTrainer does.
  kTrl,
};

// x, mask: [B, T] (any shape works; statistics are over all valid elements). shift_mean=false
// adds the mean back after scaling (TRL's option); no_std_norm skips the scaling (x - mean).
at::Tensor WhitenAdvantages(const at::Tensor& x, const at::Tensor& mask, WhitenStyle style,
                            bool shift_mean = true, bool no_std_norm = false, double eps = 1e-8);

// x with every position where mask == 0 set to 0.
at::Tensor ZeroFillPadding(const at::Tensor& x, const at::Tensor& mask);

// Whitening of one value per sequence over the batch (TRL RLOO's normalize_advantages):
// (x - mean) / (unbiased std + eps), or x / (unbiased std + eps) without subtract_mean. A batch
// of fewer than 2 values is returned unchanged (its std is undefined).
at::Tensor WhitenBatch(const at::Tensor& x, bool subtract_mean = true, double eps = 1e-8);

struct PpoAdvantageOptions {
  KlEstimator kl_estimator = KlEstimator::kK1;
  std::optional<double> kl_clamp = 10.0;                 // OpenRLHF clamps the per-token KL to +-10
  double kl_coef = 0.01;                                 // <= 0 disables the KL penalty
  std::optional<std::pair<double, double>> reward_clip;  // clip the score first
  double gamma = 1.0;
  double lambd = 0.95;
  bool whiten = true;  // OpenRLHF-style whitening of the advantages over the batch
  bool no_std_norm = false;
};

struct PpoAdvantages {
  at::Tensor kl;             // [B, T] per-token estimate
  at::Tensor shaped_reward;  // [B, T] KlShapedReward
  at::Tensor advantages;     // [B, T] GAE, whitened (non-zero at padding when whitened)
  at::Tensor returns;        // [B, T] GAE returns (never whitened)
};

// OpenRLHF compute_advantages_and_returns for advantage_estimator "gae" with the KL in the
// reward. log_probs / ref_log_probs / values / action_mask [B, T]; scores [B].
PpoAdvantages ComputePpoAdvantages(const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
                                   const at::Tensor& values, const at::Tensor& scores,
                                   const at::Tensor& action_mask,
                                   const PpoAdvantageOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_ADVANTAGES_H_
