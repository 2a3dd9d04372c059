#include "common/api/learner_options.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/api/learner_limits.h"
#include "common/status/status_macros.h"

namespace plumb::learner {
namespace {

absl::Status Field(const std::string& name, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("config.", name, ": ", problem));
}

absl::Status InRange(const std::string& name, int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return Field(name, absl::StrCat("must be in [", min, ", ", max, "], got ", value));
}

// A real-valued option within [min, max] (or an open end), finite.
struct Range {
  double min, max;
  bool min_open = false, max_open = false;
};

absl::Status Real(const std::string& name, double value, Range r) {
  const bool above = r.min_open ? value > r.min : value >= r.min;
  const bool below = r.max_open ? value < r.max : value <= r.max;
  if (std::isfinite(value) && above && below) return absl::OkStatus();
  return Field(name, absl::StrFormat("must be in %s%g, %g%s, got %g", r.min_open ? "(" : "[", r.min,
                                     r.max, r.max_open ? ")" : "]", value));
}

constexpr Range kPositive{0, kMaxCoefficient, true};
constexpr Range kNonNegative{0, kMaxCoefficient};
constexpr Range kAny{-kMaxCoefficient, kMaxCoefficient};
constexpr Range kUnit{0, 1};
constexpr Range kOpenUnit{0, 1, true, true};
constexpr Range kHalfOpenUnit{0, 1, false, true};
constexpr Range kClipHigh{0, 10, true};

absl::Status ValidateShaping(const std::string& prefix, const RewardShapingOptions& o) {
  if (o.reward_clip) {
    RETURN_IF_ERROR(Real(prefix + ".reward_shaping.reward_clip", *o.reward_clip, kPositive));
  }
  if (o.no_eos_penalty) {
    RETURN_IF_ERROR(Real(prefix + ".reward_shaping.no_eos_penalty", *o.no_eos_penalty, kAny));
  }
  return absl::OkStatus();
}

absl::Status ValidatePpo(const PpoOptions& p) {
  RETURN_IF_ERROR(Real("ppo.clip_range / clip_range_low", p.clip_low, kOpenUnit));
  RETURN_IF_ERROR(Real("ppo.clip_range / clip_range_high", p.clip_high, kClipHigh));
  if (p.dual_clip) RETURN_IF_ERROR(Real("ppo.dual_clip", *p.dual_clip, {1, kMaxCoefficient, true}));
  if (p.value_clip) RETURN_IF_ERROR(Real("ppo.value_clip_range", *p.value_clip, kPositive));
  RETURN_IF_ERROR(Real("ppo.gamma", p.gamma, kUnit));
  RETURN_IF_ERROR(Real("ppo.gae_lambda", p.lambda, kUnit));
  RETURN_IF_ERROR(Real("ppo.kl.coef", p.kl_coef, kNonNegative));
  if (p.kl_target) RETURN_IF_ERROR(Real("ppo.kl.adaptive.target", *p.kl_target, kPositive));
  RETURN_IF_ERROR(Real("ppo.value_loss_coef", p.value_loss_coef, kNonNegative));
  RETURN_IF_ERROR(Real("ppo.entropy_coef", p.entropy_coef, kAny));
  if (p.early_stop_kl) RETURN_IF_ERROR(Real("ppo.early_stop_kl", *p.early_stop_kl, kPositive));
  if (p.critic_learning_rate) {
    if (!p.separate_critic) {
      return Field("ppo.critic_learning_rate",
                   "needs critic = CRITIC_KIND_SEPARATE (the value head shares the policy's "
                   "optimizer)");
    }
    RETURN_IF_ERROR(Real("ppo.critic_learning_rate", *p.critic_learning_rate, kPositive));
  }
  return ValidateShaping("ppo", p.shaping);
}

absl::Status ValidateCriticFree(const std::string& name, const CriticFreeOptions& c) {
  if (c.clip_low) {
    RETURN_IF_ERROR(Real(name + ".clip_range / clip_range_low", *c.clip_low, kOpenUnit));
  }
  if (c.clip_high) {
    RETURN_IF_ERROR(Real(name + ".clip_range / clip_range_high", *c.clip_high, kClipHigh));
  }
  RETURN_IF_ERROR(Real(name + ".kl.coef", c.kl.coef, kNonNegative));
  RETURN_IF_ERROR(Real(name + ".baseline_decay", c.baseline_decay, kHalfOpenUnit));
  return ValidateShaping(name, c.shaping);
}

bool IsOnPolicy(Algorithm a) {
  return a == Algorithm::kPpo || a == Algorithm::kGrpo || a == Algorithm::kRloo ||
         a == Algorithm::kReinforce || a == Algorithm::kRejectionSamplingSft;
}

// The TrainingConfig oneof that holds the critic-free options of `a`.
const char* CriticFreeName(Algorithm a) {
  switch (a) {
    case Algorithm::kGrpo:
      return "grpo";
    case Algorithm::kRloo:
      return "rloo";
    default:
      return "reinforce";
  }
}

absl::Status ValidateSizes(const SessionOptions& o) {
  switch (o.algorithm) {
    case Algorithm::kPpo:
      RETURN_IF_ERROR(InRange("ppo.epochs", o.ppo.epochs, 1, kMaxEpochs));
      RETURN_IF_ERROR(InRange("ppo.minibatch_size", o.ppo.minibatch_size, 0, kMaxBatchItems));
      RETURN_IF_ERROR(InRange("ppo.kl.adaptive.horizon", o.ppo.kl_horizon, 1, kMaxKlHorizon));
      break;
    case Algorithm::kGrpo:
    case Algorithm::kRloo:
    case Algorithm::kReinforce: {
      const std::string name = CriticFreeName(o.algorithm);
      RETURN_IF_ERROR(InRange(name + ".epochs", o.critic_free.epochs, 1, kMaxEpochs));
      RETURN_IF_ERROR(
          InRange(name + ".minibatch_size", o.critic_free.minibatch_size, 0, kMaxBatchItems));
      break;
    }
    case Algorithm::kRejectionSamplingSft:
      RETURN_IF_ERROR(
          InRange("rejection_sampling.top_n_per_prompt", o.rejection_sampling.top_n, 1, kMaxTopN));
      break;
    default:
      break;
  }
  RETURN_IF_ERROR(InRange("optimizer.gradient_accumulation_steps", o.gradient_accumulation_steps, 1,
                          kMaxGradientAccumulationSteps));
  if (o.gradient_accumulation_steps > 1 && IsOnPolicy(o.algorithm)) {
    return Field("optimizer.gradient_accumulation_steps",
                 "must be 0 or 1 for on-policy algorithms (they take one step per minibatch)");
  }
  RETURN_IF_ERROR(InRange("optimizer.warmup_steps", o.schedule.warmup_steps, 0, kMaxScheduleSteps));
  RETURN_IF_ERROR(InRange("optimizer.total_steps", o.total_steps, 0, kMaxScheduleSteps));
  if (o.schedule.kind != "constant" && o.total_steps <= o.schedule.warmup_steps) {
    return Field("optimizer.total_steps", "must be > warmup_steps for a decaying schedule");
  }
  RETURN_IF_ERROR(InRange("micro_batch_size", o.micro_batch_size, 0, kMaxBatchItems));
  RETURN_IF_ERROR(InRange("max_sequence_length", o.max_sequence_length, 0, kMaxSequenceLength));
  if (o.lora.has_value()) {
    RETURN_IF_ERROR(InRange("lora.rank", o.lora->rank, 1, kMaxLoraRank));
    if (o.lora->target_modules.size() > static_cast<size_t>(kMaxLoraTargets)) {
      return Field("lora.target_modules", absl::StrCat(o.lora->target_modules.size(),
                                                       " entries; at most ", kMaxLoraTargets));
    }
    for (const std::string& m : o.lora->target_modules) {
      if (m.empty() || m.size() > kMaxIdBytes) {
        return Field("lora.target_modules",
                     absl::StrCat("each entry must be 1..", kMaxIdBytes, " bytes"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateObjective(const SessionOptions& o) {
  switch (o.algorithm) {
    case Algorithm::kPpo:
      return ValidatePpo(o.ppo);
    case Algorithm::kGrpo:
    case Algorithm::kRloo:
    case Algorithm::kReinforce:
      return ValidateCriticFree(CriticFreeName(o.algorithm), o.critic_free);
    case Algorithm::kRejectionSamplingSft:
      if (o.rejection_sampling.min_reward) {
        RETURN_IF_ERROR(Real("rejection_sampling.min_reward", *o.rejection_sampling.min_reward,
                             {-kMaxAbsReward, kMaxAbsReward}));
      }
      return absl::OkStatus();
    case Algorithm::kRewardModel:
      RETURN_IF_ERROR(Real("reward_model.margin_scale", o.reward_model.margin_scale, kNonNegative));
      return Real("reward_model.center_rewards_coef", o.reward_model.center_rewards_coef,
                  kNonNegative);
    case Algorithm::kDpo:
      RETURN_IF_ERROR(Real("dpo.beta", o.dpo.beta, kPositive));
      RETURN_IF_ERROR(Real("dpo.label_smoothing", o.dpo.label_smoothing, {0, 0.5, false, true}));
      RETURN_IF_ERROR(Real("dpo.sft_weight", o.dpo_sft_weight, kNonNegative));
      return algorithms::ValidateDpoOptions(o.dpo);
    case Algorithm::kKto:
      RETURN_IF_ERROR(Real("kto.beta", o.kto.beta, kPositive));
      RETURN_IF_ERROR(Real("kto.desirable_weight", o.kto.desirable_weight, kPositive));
      RETURN_IF_ERROR(Real("kto.undesirable_weight", o.kto.undesirable_weight, kPositive));
      return algorithms::ValidateKtoOptions(o.kto);
    case Algorithm::kOrpo:
      return Real("orpo.odds_ratio_weight", o.orpo_weight, kPositive);
    case Algorithm::kSimpo:
      RETURN_IF_ERROR(Real("simpo.beta", o.simpo.beta, kPositive));
      RETURN_IF_ERROR(Real("simpo.gamma", o.simpo.gamma, kNonNegative));
      RETURN_IF_ERROR(
          Real("simpo.label_smoothing", o.simpo.label_smoothing, {0, 0.5, false, true}));
      RETURN_IF_ERROR(Real("simpo.sft_weight", o.simpo.cpo_alpha, kNonNegative));
      return algorithms::ValidateSimpoOptions(o.simpo);
    case Algorithm::kRrhf:
      RETURN_IF_ERROR(Real("rrhf.sft_weight", o.rrhf_sft_weight, kNonNegative));
      return algorithms::ValidateRrhfOptions(o.rrhf);
    case Algorithm::kSft:
      return absl::OkStatus();
  }
  return Field("algorithm", "unknown value");
}

absl::Status ValidateOptimizer(const SessionOptions& o) {
  RETURN_IF_ERROR(Real("optimizer.learning_rate", o.optimizer.lr, kPositive));
  RETURN_IF_ERROR(Real("optimizer.beta1", o.optimizer.beta1, kHalfOpenUnit));
  RETURN_IF_ERROR(Real("optimizer.beta2", o.optimizer.beta2, kHalfOpenUnit));
  RETURN_IF_ERROR(Real("optimizer.epsilon", o.optimizer.eps, {0, 1, true}));
  RETURN_IF_ERROR(Real("optimizer.weight_decay", o.optimizer.weight_decay, kNonNegative));
  RETURN_IF_ERROR(Real("optimizer.min_lr_ratio", o.schedule.min_lr_ratio, kUnit));
  RETURN_IF_ERROR(Real("optimizer.max_grad_norm", o.max_grad_norm, kNonNegative));
  if (o.schedule.kind != "constant" && o.schedule.kind != "linear" && o.schedule.kind != "cosine") {
    return Field("optimizer.schedule", "must be constant, linear or cosine");
  }
  if (o.lora) RETURN_IF_ERROR(Real("lora.alpha", o.lora->alpha, kPositive));
  return absl::OkStatus();
}

}  // namespace

SessionOptions SessionOptions::Defaults(Algorithm algorithm) {
  SessionOptions o;
  o.algorithm = algorithm;
  switch (algorithm) {
    case Algorithm::kGrpo:
      o.critic_free.clip_low = o.critic_free.clip_high = 0.2;
      o.critic_free.kl = {.estimator = algorithms::KlEstimator::kK3, .in_loss = true, .coef = 0.04};
      o.critic_free.aggregation = LossAggregation::kSequenceMean;
      break;
    case Algorithm::kDpo:
      o.dpo.ipo_log_ratio = "mean";
      break;
    case Algorithm::kSimpo:
      o.simpo.gamma = 0.5;
      break;
    default:
      break;
  }
  return o;
}

absl::Status SessionOptions::Validate() const {
  RETURN_IF_ERROR(ValidateSizes(*this));
  RETURN_IF_ERROR(ValidateObjective(*this));
  return ValidateOptimizer(*this);
}

}  // namespace plumb::learner
