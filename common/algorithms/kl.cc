#include "common/algorithms/kl.h"

#include <algorithm>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

at::Tensor ApproxKl(const at::Tensor& log_probs, const at::Tensor& ref_log_probs,
                    KlEstimator estimator, std::optional<double> clamp) {
  const at::Tensor d = log_probs - ref_log_probs;
  at::Tensor kl;
  switch (estimator) {
    case KlEstimator::kK1:
      kl = d;
      break;
    case KlEstimator::kK2:
      kl = d.pow(2) / 2.0;
      break;
    case KlEstimator::kK3:
      kl = at::exp(-d) - 1.0 + d;
      break;
  }
  if (clamp.has_value()) kl = kl.clamp(-*clamp, *clamp);
  return kl;
}

at::Tensor KlShapedReward(const at::Tensor& scores, const at::Tensor& kl,
                          const at::Tensor& action_mask, double kl_coef,
                          std::optional<std::pair<double, double>> reward_clip) {
  // Shape preconditions: internal invariants (the caller builds these tensors).
  TORCH_CHECK(kl.dim() == 2 && action_mask.sizes() == kl.sizes(),
              "KlShapedReward: kl and action_mask must both be [B, T]");
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == kl.size(0), "KlShapedReward: scores [B]");
  at::Tensor score = scores;
  if (reward_clip.has_value()) score = score.clamp(reward_clip->first, reward_clip->second);
  const at::Tensor reward = -std::max(kl_coef, 0.0) * kl;
  // Last valid index = T - 1 - (first valid index of the reversed row).
  const int64_t length = kl.size(1);
  const at::Tensor last = (length - 1) - action_mask.to(at::kLong).flip({1}).argmax(1);
  const at::Tensor placed = at::zeros_like(reward).scatter(
      1, last.unsqueeze(1), score.unsqueeze(1).to(reward.scalar_type()));
  return reward + placed;
}

absl::StatusOr<KlController> KlController::Create(const KlControllerOptions& options) {
  if (!(options.init_kl_coef >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kl.init_kl_coef: must be >= 0, got ", options.init_kl_coef));
  }
  if (options.target_kl.has_value() && !(*options.target_kl > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kl.target_kl: must be > 0 (or unset for a fixed coefficient), got ", *options.target_kl));
  }
  if (!(options.horizon > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kl.horizon: must be > 0, got ", options.horizon));
  }
  return KlController(options.init_kl_coef, options.target_kl, options.horizon);
}

KlController KlController::Fixed(double kl_coef) {
  return KlController(kl_coef, std::nullopt, 1.0);
}

void KlController::Update(double current_kl, int64_t n_steps) {
  if (!target_kl_.has_value()) return;
  const double error = std::clamp(current_kl / *target_kl_ - 1.0, -0.2, 0.2);
  value_ *= 1.0 + error * static_cast<double>(n_steps) / horizon_;
}

}  // namespace plumb::algorithms
