#include "common/algorithms/reward_composition.h"

#include <cmath>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

absl::StatusOr<RunningMoments> RunningMoments::FromState(const State& state) {
  if (!std::isfinite(state.count) || !std::isfinite(state.mean) || !std::isfinite(state.m2) ||
      state.count < 0.0 || state.m2 < 0.0) {
    return absl::InvalidArgumentError(
        absl::StrCat("running moments: invalid state count=", state.count, " mean=", state.mean,
                     " m2=", state.m2));
  }
  if (state.count == 0.0 && (state.mean != 0.0 || state.m2 != 0.0)) {
    return absl::InvalidArgumentError("running moments: count 0 with non-zero mean or m2");
  }
  return RunningMoments(state);
}

absl::Status RunningMoments::Update(const at::Tensor& values) {
  const at::Tensor x = values.detach().to(at::kDouble).reshape(-1);
  const int64_t n = x.numel();
  if (n == 0) return absl::OkStatus();
  if (x.isnan().any().item<bool>()) return absl::InvalidArgumentError("a score is NaN");
  const double batch_mean = x.mean().item<double>();
  const double batch_m2 = (x - batch_mean).pow(2).sum().item<double>();
  const double nb = static_cast<double>(n);
  const double total = state_.count + nb;
  const double delta = batch_mean - state_.mean;
  // Chan et al. (1979): merge (count, mean, m2) of two disjoint samples.
  state_.mean += delta * nb / total;
  state_.m2 += batch_m2 + delta * delta * state_.count * nb / total;
  state_.count = total;
  return absl::OkStatus();
}

double RunningMoments::variance() const {
  return state_.count > 0.0 ? state_.m2 / state_.count : 0.0;
}

double RunningMoments::sample_variance() const {
  return state_.count > 1.0 ? state_.m2 / (state_.count - 1.0) : 0.0;
}

double RunningMoments::std() const { return std::sqrt(variance()); }

at::Tensor RunningMoments::Whiten(const at::Tensor& x, double eps) const {
  return (x - state_.mean) / (std() + eps);
}

absl::StatusOr<at::Tensor> ComposeRewards(const std::map<std::string, at::Tensor>& scores,
                                          const RewardCompositionOptions& options,
                                          const at::Tensor& unsafe_prompt,
                                          std::map<std::string, RunningMoments>* moments) {
  if (scores.empty()) return absl::InvalidArgumentError("compose rewards: no objectives scored");
  if (options.whiten_objectives && moments == nullptr) {
    return absl::InvalidArgumentError("compose rewards: whiten_objectives needs running moments");
  }
  const at::Tensor& first = scores.begin()->second;
  for (const auto& [name, tensor] : scores) {
    if (!tensor.defined() || tensor.dim() != 1 || tensor.size(0) != first.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat("compose rewards: objective '", name,
                                                     "': scores must be [N] like '",
                                                     scores.begin()->first, "'"));
    }
  }
  for (const auto& [name, weight] : options.weights) {
    if (!scores.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("compose rewards: unknown objective '", name, "' (weighted, not scored)"));
    }
    if (options.gating.has_value() && (name == options.gating->safety_objective ||
                                       name == options.gating->helpfulness_objective)) {
      return absl::InvalidArgumentError(
          absl::StrCat("compose rewards: objective '", name, "' is gated; remove its weight"));
    }
  }
  if (options.gating.has_value()) {
    for (const std::string& name :
         {options.gating->safety_objective, options.gating->helpfulness_objective}) {
      if (!scores.contains(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat("compose rewards: unknown objective '", name, "' (gated, not scored)"));
      }
    }
  }
  for (const auto& [name, tensor] : scores) {
    const bool gated =
        options.gating.has_value() &&
        (name == options.gating->safety_objective || name == options.gating->helpfulness_objective);
    if (!gated && !options.weights.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("compose rewards: objective '", name, "' is scored but has no weight"));
    }
  }

  // Values that enter the combination: whitened per objective when requested.
  std::map<std::string, at::Tensor> values;
  for (const auto& [name, tensor] : scores) {
    if (options.whiten_objectives) {
      RunningMoments& running = (*moments)[name];
      if (absl::Status status = running.Update(tensor); !status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("compose rewards: objective '", name, "': ", status.message()));
      }
      values[name] = running.Whiten(tensor);
    } else {
      values[name] = tensor;
    }
  }

  at::Tensor composed = at::zeros_like(first);
  for (const auto& [name, weight] : options.weights) composed = composed + weight * values[name];
  if (options.gating.has_value()) {
    const SafetyGating& gate = *options.gating;
    at::Tensor use_safety = scores.at(gate.safety_objective) < gate.threshold;
    if (unsafe_prompt.defined()) {
      if (unsafe_prompt.sizes() != use_safety.sizes()) {
        return absl::InvalidArgumentError("compose rewards: unsafe_prompt must be [N]");
      }
      use_safety = use_safety.logical_or(unsafe_prompt.to(at::kBool));
    }
    composed = composed + at::where(use_safety, values[gate.safety_objective],
                                    values[gate.helpfulness_objective]);
  }
  return composed;
}

}  // namespace plumb::algorithms
