#include "common/clients/learner_config_proto.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/echo.h"

namespace plumb::clients {
namespace {

using learner::LossAggregation;
using learner::Whitening;

absl::Status Inexpressible(const std::string& option, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("options.", option, ": ", why, " (plumb.v1.TrainingConfig cannot carry it)"));
}

v1::LossAggregation Aggregation(LossAggregation a) {
  switch (a) {
    case LossAggregation::kTokenMean:
      return v1::LOSS_AGGREGATION_TOKEN_MEAN;
    case LossAggregation::kSequenceMean:
      return v1::LOSS_AGGREGATION_SEQUENCE_MEAN;
    case LossAggregation::kTokenSumNorm:
      return v1::LOSS_AGGREGATION_TOKEN_SUM_NORM;
  }
  return v1::LOSS_AGGREGATION_UNSPECIFIED;
}

v1::Whitening WhiteningOf(Whitening w) {
  switch (w) {
    case Whitening::kNone:
      return v1::WHITENING_NONE;
    case Whitening::kMeanStd:
      return v1::WHITENING_MEAN_STD;
    case Whitening::kStdOnly:
      return v1::WHITENING_STD_ONLY;
  }
  return v1::WHITENING_UNSPECIFIED;
}

v1::KlEstimator Estimator(algorithms::KlEstimator e) {
  switch (e) {
    case algorithms::KlEstimator::kK1:
      return v1::KL_ESTIMATOR_K1;
    case algorithms::KlEstimator::kK2:
      return v1::KL_ESTIMATOR_K2;
    case algorithms::KlEstimator::kK3:
      return v1::KL_ESTIMATOR_K3;
  }
  return v1::KL_ESTIMATOR_UNSPECIFIED;
}

void Kl(algorithms::KlEstimator estimator, bool in_loss, double coef, v1::KlConfig* kl) {
  kl->set_estimator(Estimator(estimator));
  kl->set_placement(in_loss ? v1::KL_PLACEMENT_LOSS : v1::KL_PLACEMENT_REWARD);
  kl->set_coef(static_cast<float>(coef));
}

void Shaping(const learner::RewardShapingOptions& s, v1::RewardShaping* p) {
  if (s.reward_clip) p->set_reward_clip(static_cast<float>(*s.reward_clip));
  if (s.no_eos_penalty) p->set_no_eos_penalty(static_cast<float>(*s.no_eos_penalty));
  p->set_reward_whitening(WhiteningOf(s.reward_whitening));
}

void Ppo(const learner::PpoOptions& o, v1::PpoConfig* p) {
  p->set_clip_range_low(static_cast<float>(o.clip_low));
  p->set_clip_range_high(static_cast<float>(o.clip_high));
  if (o.dual_clip) p->set_dual_clip(static_cast<float>(*o.dual_clip));
  p->set_value_clip_range(o.value_clip ? static_cast<float>(*o.value_clip) : 0.0f);
  p->set_gamma(static_cast<float>(o.gamma));
  p->set_gae_lambda(static_cast<float>(o.lambda));
  Kl(o.kl_estimator, o.kl_in_loss, o.kl_coef, p->mutable_kl());
  if (o.kl_target) {
    p->mutable_kl()->mutable_adaptive()->set_target(static_cast<float>(*o.kl_target));
    p->mutable_kl()->mutable_adaptive()->set_horizon(o.kl_horizon);
  }
  p->set_epochs(o.epochs);
  p->set_minibatch_size(o.minibatch_size);
  p->set_value_loss_coef(static_cast<float>(o.value_loss_coef));
  p->set_entropy_coef(static_cast<float>(o.entropy_coef));
  p->set_advantage_whitening(o.whiten_advantages ? v1::WHITENING_MEAN_STD : v1::WHITENING_NONE);
  Shaping(o.shaping, p->mutable_reward_shaping());
  p->set_loss_aggregation(Aggregation(o.aggregation));
  p->set_critic(o.separate_critic ? v1::CRITIC_KIND_SEPARATE : v1::CRITIC_KIND_VALUE_HEAD);
  if (o.critic_learning_rate)
    p->set_critic_learning_rate(static_cast<float>(*o.critic_learning_rate));
  if (o.early_stop_kl) p->set_early_stop_kl(static_cast<float>(*o.early_stop_kl));
}

absl::Status CriticFree(learner::Algorithm algorithm, const learner::CriticFreeOptions& o,
                        v1::TrainingConfig* c) {
  const bool clipped = o.clip_low.has_value() || o.clip_high.has_value();
  switch (algorithm) {
    case learner::Algorithm::kGrpo: {
      v1::GrpoConfig* p = c->mutable_grpo();
      if (!o.clip_low || !o.clip_high) {
        return Inexpressible("critic_free.clip_low / clip_high", "GRPO always clips; set both");
      }
      p->set_clip_range_low(static_cast<float>(*o.clip_low));
      p->set_clip_range_high(static_cast<float>(*o.clip_high));
      Kl(o.kl.estimator, o.kl.in_loss, o.kl.coef, p->mutable_kl());
      p->set_epochs(o.epochs);
      p->set_minibatch_size(o.minibatch_size);
      p->set_scale_by_group_std(o.scale_by_group_std);
      p->set_loss_aggregation(Aggregation(o.aggregation));
      Shaping(o.shaping, p->mutable_reward_shaping());
      return absl::OkStatus();
    }
    case learner::Algorithm::kRloo: {
      v1::RlooConfig* p = c->mutable_rloo();
      if (clipped) {
        if (o.clip_low != o.clip_high) {
          return Inexpressible("critic_free.clip_low / clip_high", "RLOO clips symmetrically");
        }
        p->set_clip_range(static_cast<float>(*o.clip_low));
      }
      Kl(o.kl.estimator, o.kl.in_loss, o.kl.coef, p->mutable_kl());
      p->set_epochs(o.epochs);
      p->set_minibatch_size(o.minibatch_size);
      p->set_advantage_whitening(WhiteningOf(o.advantage_whitening));
      p->set_loss_aggregation(Aggregation(o.aggregation));
      Shaping(o.shaping, p->mutable_reward_shaping());
      return absl::OkStatus();
    }
    default: {  // REINFORCE with a baseline: one epoch, unclipped
      if (clipped || o.epochs != 1 || o.minibatch_size != 0) {
        return Inexpressible("critic_free", "REINFORCE takes one unclipped epoch per call");
      }
      v1::ReinforceConfig* p = c->mutable_reinforce();
      Kl(o.kl.estimator, o.kl.in_loss, o.kl.coef, p->mutable_kl());
      switch (o.baseline) {
        case learner::BaselineKind::kMovingAverage:
          p->set_baseline(v1::BASELINE_KIND_MOVING_AVERAGE);
          break;
        case learner::BaselineKind::kBatchMean:
          p->set_baseline(v1::BASELINE_KIND_BATCH_MEAN);
          break;
        case learner::BaselineKind::kNone:
          p->set_baseline(v1::BASELINE_KIND_NONE);
          break;
      }
      p->set_baseline_decay(static_cast<float>(o.baseline_decay));
      p->set_advantage_whitening(WhiteningOf(o.advantage_whitening));
      p->set_loss_aggregation(Aggregation(o.aggregation));
      Shaping(o.shaping, p->mutable_reward_shaping());
      return absl::OkStatus();
    }
  }
}

absl::Status Dpo(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  const algorithms::DpoOptions& d = o.dpo;
  c->set_algorithm(v1::ALGORITHM_DPO);
  v1::DpoConfig* p = c->mutable_dpo();
  if (d.loss_type == "sigmoid") {
    p->set_loss_type(v1::DPO_LOSS_TYPE_SIGMOID);
  } else if (d.loss_type == "ipo") {
    p->set_loss_type(v1::DPO_LOSS_TYPE_IPO);
  } else if (d.loss_type == "hinge") {
    p->set_loss_type(v1::DPO_LOSS_TYPE_HINGE);
  } else {
    return Inexpressible("dpo.loss_type", absl::StrCat(Echo(d.loss_type), " is not offered"));
  }
  p->set_beta(static_cast<float>(d.beta));
  p->set_label_smoothing(static_cast<float>(d.label_smoothing));
  p->set_reference_free(d.reference_free);
  if (d.ipo_log_ratio != "mean" && d.ipo_log_ratio != "sum") {
    return Inexpressible("dpo.ipo_log_ratio", "must be mean or sum");
  }
  p->set_ipo_length_normalize(d.ipo_log_ratio == "mean");
  p->set_sft_weight(static_cast<float>(o.dpo_sft_weight));
  return absl::OkStatus();
}

absl::Status Algorithm(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  using learner::Algorithm;
  switch (o.algorithm) {
    case Algorithm::kSft:
      c->set_algorithm(v1::ALGORITHM_SFT);
      c->mutable_sft();
      return absl::OkStatus();
    case Algorithm::kRewardModel: {
      c->set_algorithm(v1::ALGORITHM_REWARD_MODEL);
      v1::RewardModelConfig* p = c->mutable_reward_model();
      p->set_use_margin(o.reward_model.use_margin);
      p->set_margin_scale(static_cast<float>(o.reward_model.margin_scale));
      p->set_center_rewards_coef(static_cast<float>(o.reward_model.center_rewards_coef));
      return absl::OkStatus();
    }
    case Algorithm::kPpo:
      c->set_algorithm(v1::ALGORITHM_PPO);
      Ppo(o.ppo, c->mutable_ppo());
      return absl::OkStatus();
    case Algorithm::kGrpo:
      c->set_algorithm(v1::ALGORITHM_GRPO);
      return CriticFree(o.algorithm, o.critic_free, c);
    case Algorithm::kRloo:
      c->set_algorithm(v1::ALGORITHM_RLOO);
      return CriticFree(o.algorithm, o.critic_free, c);
    case Algorithm::kReinforce:
      c->set_algorithm(v1::ALGORITHM_REINFORCE_BASELINE);
      return CriticFree(o.algorithm, o.critic_free, c);
    case Algorithm::kRejectionSamplingSft: {
      c->set_algorithm(v1::ALGORITHM_REJECTION_SAMPLING_SFT);
      v1::RejectionSamplingConfig* p = c->mutable_rejection_sampling();
      p->set_top_n_per_prompt(o.rejection_sampling.top_n);
      if (o.rejection_sampling.min_reward) {
        p->set_min_reward(static_cast<float>(*o.rejection_sampling.min_reward));
      }
      p->set_drop_truncated(o.rejection_sampling.drop_truncated);
      return absl::OkStatus();
    }
    case Algorithm::kDpo:
      return Dpo(o, c);
    case Algorithm::kKto: {
      if (o.kto.kl_average != algorithms::KtoOptions().kl_average) {
        return Inexpressible("kto.kl_average", "only the default is offered");
      }
      c->set_algorithm(v1::ALGORITHM_KTO);
      v1::KtoConfig* p = c->mutable_kto();
      p->set_beta(static_cast<float>(o.kto.beta));
      p->set_desirable_weight(static_cast<float>(o.kto.desirable_weight));
      p->set_undesirable_weight(static_cast<float>(o.kto.undesirable_weight));
      p->set_reference_point(o.kto_reference_point == learner::KtoReferencePoint::kZero
                                 ? v1::KTO_REFERENCE_POINT_ZERO
                                 : v1::KTO_REFERENCE_POINT_BATCH_MISMATCHED);
      return absl::OkStatus();
    }
    case Algorithm::kOrpo:
      c->set_algorithm(v1::ALGORITHM_ORPO);
      c->mutable_orpo()->set_odds_ratio_weight(static_cast<float>(o.orpo_weight));
      return absl::OkStatus();
    case Algorithm::kSimpo: {
      c->set_algorithm(v1::ALGORITHM_SIMPO);
      v1::SimpoConfig* p = c->mutable_simpo();
      p->set_beta(static_cast<float>(o.simpo.beta));
      p->set_gamma(static_cast<float>(o.simpo.gamma));
      p->set_label_smoothing(static_cast<float>(o.simpo.label_smoothing));
      p->set_sft_weight(static_cast<float>(o.simpo.cpo_alpha));
      return absl::OkStatus();
    }
    case Algorithm::kRrhf: {
      const algorithms::RrhfOptions defaults;
      if (o.rrhf.rrhf_weight != defaults.rrhf_weight ||
          o.rrhf.length_mode != defaults.length_mode ||
          o.rrhf.sft_reduction != defaults.sft_reduction ||
          (o.rrhf.length_penalty != 0.0 && o.rrhf.length_penalty != 1.0)) {
        return Inexpressible("rrhf", "only length_penalty 0 or 1 and the default reductions");
      }
      c->set_algorithm(v1::ALGORITHM_RRHF);
      c->mutable_rrhf()->set_sft_weight(static_cast<float>(o.rrhf_sft_weight));
      c->mutable_rrhf()->set_length_normalize(o.rrhf.length_penalty == 1.0);
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("options.algorithm: unknown value");
}

}  // namespace

absl::StatusOr<v1::TrainingConfig> TrainingConfigFromOptions(const learner::SessionOptions& o) {
  v1::TrainingConfig c;
  if (absl::Status status = Algorithm(o, &c); !status.ok()) return status;
  v1::OptimizerConfig* opt = c.mutable_optimizer();
  opt->set_type(v1::OPTIMIZER_TYPE_ADAMW);
  opt->set_learning_rate(static_cast<float>(o.optimizer.lr));
  opt->set_beta1(static_cast<float>(o.optimizer.beta1));
  opt->set_beta2(static_cast<float>(o.optimizer.beta2));
  opt->set_epsilon(static_cast<float>(o.optimizer.eps));
  opt->set_weight_decay(static_cast<float>(o.optimizer.weight_decay));
  if (o.schedule.kind == "constant") {
    opt->set_schedule(v1::LR_SCHEDULE_CONSTANT);
  } else if (o.schedule.kind == "linear") {
    opt->set_schedule(v1::LR_SCHEDULE_LINEAR);
  } else if (o.schedule.kind == "cosine") {
    opt->set_schedule(v1::LR_SCHEDULE_COSINE);
  } else {
    return Inexpressible("schedule.kind", absl::StrCat(Echo(o.schedule.kind), " is not offered"));
  }
  opt->set_warmup_steps(o.schedule.warmup_steps);
  opt->set_total_steps(o.total_steps);
  opt->set_min_lr_ratio(static_cast<float>(o.schedule.min_lr_ratio));
  opt->set_max_grad_norm(static_cast<float>(o.max_grad_norm));
  opt->set_gradient_accumulation_steps(o.gradient_accumulation_steps);
  if (o.lora.has_value()) {
    c.mutable_lora()->set_rank(static_cast<int32_t>(o.lora->rank));
    c.mutable_lora()->set_alpha(static_cast<float>(o.lora->alpha));
    for (const std::string& m : o.lora->target_modules) c.mutable_lora()->add_target_modules(m);
  }
  if (o.device != "cpu") return Inexpressible("device", "the learner's device is its own");
  if (o.dtype == "bfloat16") {
    if (o.bf16_mixed) return Inexpressible("bf16_mixed", "bf16 weights take no autocast");
    c.set_precision(v1::PRECISION_BF16);
  } else if (o.dtype == "float32") {
    c.set_precision(o.bf16_mixed ? v1::PRECISION_BF16_MIXED : v1::PRECISION_FP32);
  } else {
    return Inexpressible("dtype", absl::StrCat(Echo(o.dtype), " is not offered"));
  }
  c.set_micro_batch_size(o.micro_batch_size);
  c.set_max_sequence_length(static_cast<int32_t>(o.max_sequence_length));
  if (o.max_policy_lag) c.set_max_policy_lag(*o.max_policy_lag);
  c.set_seed(o.seed);
  return c;
}

}  // namespace plumb::clients
