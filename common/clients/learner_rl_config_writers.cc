// The policy-gradient sections of a TrainingConfig (PPO, GRPO, RLOO, REINFORCE) written from
// the session options: the inverse of the learner's learner_rl_config.cc.
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clients/learner_config_writers.h"

namespace plumb::clients::internal {
namespace {

using learner::LossAggregation;
using learner::Whitening;

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

void PpoSection(const learner::PpoOptions& o, v1::PpoConfig* p) {
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
  p->set_recompute_behavior_logprobs(o.recompute_behavior_logprobs);
  if (o.tis_cap) p->set_tis_cap(static_cast<float>(*o.tis_cap));
}

}  // namespace

absl::Status Grpo(const learner::SessionOptions& options, v1::TrainingConfig* c) {
  const learner::CriticFreeOptions& o = options.critic_free;
  c->set_algorithm(v1::ALGORITHM_GRPO);
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

absl::Status Rloo(const learner::SessionOptions& options, v1::TrainingConfig* c) {
  const learner::CriticFreeOptions& o = options.critic_free;
  c->set_algorithm(v1::ALGORITHM_RLOO);
  v1::RlooConfig* p = c->mutable_rloo();
  if (o.clip_low.has_value() || o.clip_high.has_value()) {
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

// REINFORCE with a baseline: one epoch, unclipped.
absl::Status Reinforce(const learner::SessionOptions& options, v1::TrainingConfig* c) {
  const learner::CriticFreeOptions& o = options.critic_free;
  c->set_algorithm(v1::ALGORITHM_REINFORCE_BASELINE);
  if (o.clip_low.has_value() || o.clip_high.has_value() || o.epochs != 1 || o.minibatch_size != 0) {
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

absl::Status Ppo(const learner::SessionOptions& o, v1::TrainingConfig* c) {
  c->set_algorithm(v1::ALGORITHM_PPO);
  PpoSection(o.ppo, c->mutable_ppo());
  return absl::OkStatus();
}

}  // namespace plumb::clients::internal
