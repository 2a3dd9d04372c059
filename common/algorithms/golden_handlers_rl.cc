// Golden handlers for the on-policy RL pieces (OpenRLHF PPO, TRL GRPO / RLOO).
#include <optional>
#include <utility>

#include <torch/torch.h>

#include "common/algorithms/advantages.h"
#include "common/algorithms/golden_checker.h"
#include "common/algorithms/group_advantages.h"
#include "common/algorithms/kl.h"
#include "common/algorithms/masking.h"
#include "common/algorithms/policy_loss.h"

namespace plumb::algorithms::golden {
namespace {

// Parses a KL estimator name, recording a problem for an unknown one.
std::optional<KlEstimator> Estimator(CaseContext& c, const std::string& param) {
  absl::StatusOr<KlEstimator> estimator = ParseKlEstimator(c.String(param));
  if (!estimator.ok()) {
    c.Fail(estimator.status().ToString());
    return std::nullopt;
  }
  return *estimator;
}

// null -> nullopt; [lo, hi] -> the pair; anything else is a problem.
std::optional<std::pair<double, double>> ClipRange(CaseContext& c, const std::string& param) {
  const nlohmann::json& value = c.Raw(param);
  if (value.is_null()) return std::nullopt;
  if (value.is_array() && value.size() == 2 && value[0].is_number() && value[1].is_number()) {
    return std::make_pair(value[0].get<double>(), value[1].get<double>());
  }
  c.Fail(param + " must be null or [lo, hi]");
  return std::nullopt;
}

void Whitening(CaseContext& c) {
  const at::Tensor x = c.Input("advantages");
  const at::Tensor mask = c.Input("action_mask");
  const bool no_std_norm = c.Bool("openrlhf_no_std_norm");
  const double clamp_eps = c.Number("openrlhf_eps_var_clamp");
  const double add_eps = c.Number("trl_eps_var_add");
  c.Output("masked_mean_all", MaskedMean(x, mask));
  c.Output("masked_mean_per_row", MaskedMean(x, mask, -1));
  c.Output("openrlhf_whitened", WhitenAdvantages(x, mask, WhitenStyle::kOpenRlhf,
                                                 /*shift_mean=*/true, no_std_norm, clamp_eps));
  const at::Tensor trl = WhitenAdvantages(x, mask, WhitenStyle::kTrl, /*shift_mean=*/true,
                                          /*no_std_norm=*/false, add_eps);
  c.Output("trl_masked_whiten", trl);
  c.Output("trl_ppo_advantages", ZeroFillPadding(trl, mask));
}

void ApproxKlCase(CaseContext& c) {
  const std::optional<KlEstimator> estimator = Estimator(c, "kl_estimator");
  const std::optional<std::pair<double, double>> clamp = ClipRange(c, "clamp");
  if (!estimator.has_value()) return;
  std::optional<double> bound;
  if (clamp.has_value()) {
    if (clamp->first != -clamp->second) c.Fail("clamp must be symmetric [-c, c]");
    bound = clamp->second;
  }
  c.Output("kl", ApproxKl(c.Input("log_probs"), c.Input("log_probs_base"), *estimator, bound));
}

void ComputeReward(CaseContext& c) {
  c.Output("reward", KlShapedReward(c.Input("r"), c.Input("kl"), c.Input("action_mask"),
                                    c.Number("kl_coef"), ClipRange(c, "reward_clip_range")));
}

void GaeCase(CaseContext& c) {
  const GaeResult out = Gae(c.Input("values"), c.Input("rewards"), c.Input("action_mask"),
                            c.Number("gamma"), c.Number("lambd"));
  c.Output("advantages", out.advantages);
  c.Output("returns", out.returns);
}

void TokenGroupAdvantagesCase(CaseContext& c) {
  TokenGroupAdvantageOptions options;
  absl::StatusOr<GroupEstimator> estimator = ParseGroupEstimator(c.String("advantage_estimator"));
  const std::optional<KlEstimator> kl_estimator = Estimator(c, "kl_estimator");
  options.n_samples_per_prompt = static_cast<int64_t>(c.Number("n_samples_per_prompt"));
  options.kl_coef = c.Number("kl_coef");
  options.no_std_norm = c.Bool("no_std_norm");
  c.RequireParam("gamma", 1.0);  // OpenRLHF forces gamma = 1 for the group estimators
  if (!estimator.ok()) {
    c.Fail(estimator.status().ToString());
    return;
  }
  if (!kl_estimator.has_value()) return;
  options.estimator = *estimator;
  options.kl_estimator = *kl_estimator;
  absl::StatusOr<TokenGroupAdvantages> out =
      ComputeTokenGroupAdvantages(c.Input("rewards"), c.Input("log_probs"),
                                  c.Input("ref_log_probs"), c.Input("action_mask"), options);
  if (!out.ok()) {
    c.Fail(out.status().ToString());
    return;
  }
  c.Output("advantages", out->advantages);
  c.Output("returns", out->returns);
}

void PolicyLossCase(CaseContext& c) {
  c.RequireParam("policy_loss_type", "ppo");
  PolicyLossOptions options;
  options.clip_eps_low = c.Number("clip_eps_low");
  options.clip_eps_high = c.Number("clip_eps_high");
  if (!c.IsNull("dual_clip")) options.dual_clip = c.Number("dual_clip");
  options.token_level = c.Bool("token_level_loss");
  const PolicyLossResult out =
      PpoPolicyLoss(c.Input("log_probs"), c.Input("old_log_probs"), c.Input("advantages"),
                    c.Input("action_mask"), options);
  c.Output("loss", out.loss);
  c.Output("clip_ratio", out.clip_ratio);
  c.Output("ppo_kl", out.approx_kl);
}

void ValueLossCase(CaseContext& c) {
  std::optional<double> clip_eps;
  if (!c.IsNull("clip_eps")) clip_eps = c.Number("clip_eps");
  c.Output("loss", ClippedValueLoss(c.Input("values"), c.Input("old_values"), c.Input("returns"),
                                    c.Input("action_mask"), clip_eps, c.Bool("token_level_loss")));
}

void PpoPipeline(CaseContext& c) {
  c.RequireParam("advantage_estimator", "gae");
  c.RequireParam("n_samples_per_prompt", 1);
  PpoAdvantageOptions options;
  const std::optional<KlEstimator> estimator = Estimator(c, "kl_estimator");
  options.kl_coef = c.Number("kl_coef");
  options.gamma = c.Number("gamma");
  options.lambd = c.Number("lambd");
  options.no_std_norm = c.Bool("no_std_norm");
  options.reward_clip = ClipRange(c, "reward_clip_range");
  if (!estimator.has_value()) return;
  options.kl_estimator = *estimator;
  const PpoAdvantages out =
      ComputePpoAdvantages(c.Input("log_probs"), c.Input("ref_log_probs"), c.Input("values"),
                           c.Input("r"), c.Input("action_mask"), options);
  c.Output("kl", out.kl);
  c.Output("shaped_reward", out.shaped_reward);
  c.Output("advantages", out.advantages);
  c.Output("returns", out.returns);
}

void Grpo(CaseContext& c) {
  c.RequireParam("multi_objective_aggregation", "sum_then_normalize");
  GrpoAdvantageOptions options;
  options.num_generations = static_cast<int64_t>(c.Number("num_generations"));
  options.eps = c.Number("eps");
  absl::StatusOr<RewardScaling> scaling = ParseRewardScaling(c.String("scale_rewards"));
  if (!scaling.ok()) {
    c.Fail(scaling.status().ToString());
    return;
  }
  options.scale_rewards = *scaling;
  absl::StatusOr<GrpoAdvantages> out =
      ComputeGrpoAdvantages(c.Input("rewards_per_func"), c.Input("reward_weights"), options);
  if (!out.ok()) {
    c.Fail(out.status().ToString());
    return;
  }
  c.Output("rewards", out->rewards);
  c.Output("mean_grouped_rewards", out->mean_grouped_rewards);
  c.Output("std_rewards", out->std_rewards);
  c.Output("advantages", out->advantages);
}

void Rloo(CaseContext& c) {
  c.RequireParam("reward_clip_range", nullptr);
  RlooAdvantageOptions options;
  options.num_generations = static_cast<int64_t>(c.Number("num_generations"));
  options.beta = c.Number("beta");
  options.normalize_advantages = c.Bool("normalize_advantages");
  absl::StatusOr<RlooAdvantages> out = ComputeRlooAdvantages(
      c.Input("rewards_per_func"), c.Input("reward_weights"), c.Input("old_per_token_logps"),
      c.Input("ref_per_token_logps"), c.Input("completion_mask"), options);
  if (!out.ok()) {
    c.Fail(out.status().ToString());
    return;
  }
  c.Output("rewards", out->rewards);
  c.Output("baselines", out->baselines);
  c.Output("advantages", out->advantages);
}

}  // namespace

void AddRlHandlers(std::map<std::string, Handler>& handlers) {
  handlers["masked_mean and advantage whitening (OpenRLHF vs TRL PPOTrainer)"] = Whitening;
  handlers["PPO KL estimators k1/k2/k3"] = ApproxKlCase;
  handlers["PPO KL-shaped per-token reward"] = ComputeReward;
  handlers["PPO GAE advantages and returns"] = GaeCase;
  handlers["Group baselines rloo / group_norm (GRPO) / reinforce_baseline (OpenRLHF)"] =
      TokenGroupAdvantagesCase;
  handlers["PPO clipped surrogate (PolicyLoss)"] = PolicyLossCase;
  handlers["PPO reward shaping + GAE + whitening (OpenRLHF)"] = PpoPipeline;
  handlers["PPO clipped value loss (ValueLoss)"] = ValueLossCase;
  handlers["GRPO group-normalised advantages (TRL GRPOTrainer)"] = Grpo;
  handlers["RLOO leave-one-out advantages (TRL RLOOTrainer)"] = Rloo;
}

}  // namespace plumb::algorithms::golden
