// The policy-gradient sections of a TrainingConfig (PPO, GRPO, RLOO, REINFORCE) read into the
// session options, over the algorithm's defaults (SessionOptions::Defaults).
#include "common/clients/learner_config_readers.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace plumb::clients::internal {
namespace {

using learner::BaselineKind;
using learner::KlOptions;
using learner::LossAggregation;
using learner::RewardShapingOptions;
using learner::Whitening;

LossAggregation ReadAggregation(v1::LossAggregation a, LossAggregation unset) {
  switch (a) {
    case v1::LOSS_AGGREGATION_TOKEN_MEAN:
      return LossAggregation::kTokenMean;
    case v1::LOSS_AGGREGATION_SEQUENCE_MEAN:
      return LossAggregation::kSequenceMean;
    case v1::LOSS_AGGREGATION_TOKEN_SUM_NORM:
      return LossAggregation::kTokenSumNorm;
    default:
      return unset;
  }
}

Whitening ReadWhitening(v1::Whitening w, Whitening unset) {
  switch (w) {
    case v1::WHITENING_NONE:
      return Whitening::kNone;
    case v1::WHITENING_MEAN_STD:
      return Whitening::kMeanStd;
    case v1::WHITENING_STD_ONLY:
      return Whitening::kStdOnly;
    default:
      return unset;
  }
}

void ReadShaping(const v1::RewardShaping& p, RewardShapingOptions* o) {
  if (p.has_reward_clip()) o->reward_clip = p.reward_clip();
  if (p.has_no_eos_penalty()) o->no_eos_penalty = p.no_eos_penalty();
  o->reward_whitening = ReadWhitening(p.reward_whitening(), Whitening::kNone);
}

void ReadKl(const v1::KlConfig& kl, KlOptions* o) {
  switch (kl.estimator()) {
    case v1::KL_ESTIMATOR_K1:
      o->estimator = algorithms::KlEstimator::kK1;
      break;
    case v1::KL_ESTIMATOR_K2:
      o->estimator = algorithms::KlEstimator::kK2;
      break;
    case v1::KL_ESTIMATOR_K3:
      o->estimator = algorithms::KlEstimator::kK3;
      break;
    default:
      break;  // the algorithm's default, already in *o
  }
  if (kl.placement() == v1::KL_PLACEMENT_LOSS) o->in_loss = true;
  if (kl.placement() == v1::KL_PLACEMENT_REWARD) o->in_loss = false;
  if (kl.has_coef()) o->coef = kl.coef();
}

void ReadEpochs(int epochs, int minibatch, CriticFreeOptions* o) {
  o->epochs = epochs == 0 ? 1 : epochs;
  o->minibatch_size = minibatch;
}

}  // namespace

absl::Status ReadPpo(const v1::PpoConfig& p, PpoOptions* o) {
  const double clip = p.clip_range() == 0 ? 0.2 : p.clip_range();
  o->clip_low = p.has_clip_range_low() ? p.clip_range_low() : clip;
  o->clip_high = p.has_clip_range_high() ? p.clip_range_high() : clip;
  if (p.has_dual_clip()) o->dual_clip = p.dual_clip();
  if (p.has_value_clip_range()) {
    o->value_clip =
        p.value_clip_range() == 0 ? std::nullopt : std::optional<double>(p.value_clip_range());
  }
  if (p.has_gamma()) o->gamma = p.gamma();
  if (p.has_gae_lambda()) o->lambda = p.gae_lambda();
  KlOptions kl;
  kl.coef = o->kl_coef;
  ReadKl(p.kl(), &kl);
  o->kl_estimator = kl.estimator;
  o->kl_in_loss = kl.in_loss;
  o->kl_coef = kl.coef;
  if (p.kl().has_adaptive()) {
    o->kl_target = p.kl().adaptive().target();
    o->kl_horizon = p.kl().adaptive().horizon();
  }
  o->epochs = p.epochs() == 0 ? 4 : p.epochs();
  o->minibatch_size = p.minibatch_size();
  if (p.has_value_loss_coef()) o->value_loss_coef = p.value_loss_coef();
  o->entropy_coef = p.entropy_coef();
  if (p.advantage_whitening() == v1::WHITENING_STD_ONLY) {
    return absl::InvalidArgumentError(
        "config.ppo.advantage_whitening: PPO whitens with MEAN_STD or NONE");
  }
  o->whiten_advantages = p.advantage_whitening() != v1::WHITENING_NONE;
  ReadShaping(p.reward_shaping(), &o->shaping);
  o->aggregation = ReadAggregation(p.loss_aggregation(), LossAggregation::kTokenMean);
  o->separate_critic = p.critic() == v1::CRITIC_KIND_SEPARATE;
  if (p.has_critic_learning_rate()) o->critic_learning_rate = p.critic_learning_rate();
  if (p.has_early_stop_kl()) o->early_stop_kl = p.early_stop_kl();
  o->recompute_behavior_logprobs = p.recompute_behavior_logprobs();
  if (p.has_tis_cap()) o->tis_cap = p.tis_cap();
  return absl::OkStatus();
}

void ReadGrpo(const v1::GrpoConfig& p, CriticFreeOptions* o) {
  const double clip = p.clip_range() == 0 ? 0.2 : p.clip_range();
  o->clip_low = p.has_clip_range_low() ? p.clip_range_low() : clip;
  o->clip_high = p.has_clip_range_high() ? p.clip_range_high() : clip;
  ReadKl(p.kl(), &o->kl);  // over GRPO's defaults (SessionOptions::Defaults)
  ReadEpochs(p.epochs(), p.minibatch_size(), o);
  o->scale_by_group_std = !p.has_scale_by_group_std() || p.scale_by_group_std();
  o->aggregation = ReadAggregation(p.loss_aggregation(), o->aggregation);
  ReadShaping(p.reward_shaping(), &o->shaping);
}

void ReadRloo(const v1::RlooConfig& p, CriticFreeOptions* o) {
  if (p.has_clip_range()) o->clip_low = o->clip_high = p.clip_range();
  ReadKl(p.kl(), &o->kl);
  ReadEpochs(p.epochs(), p.minibatch_size(), o);
  o->advantage_whitening = ReadWhitening(p.advantage_whitening(), Whitening::kNone);
  o->aggregation = ReadAggregation(p.loss_aggregation(), LossAggregation::kTokenMean);
  ReadShaping(p.reward_shaping(), &o->shaping);
}

void ReadReinforce(const v1::ReinforceConfig& p, CriticFreeOptions* o) {
  ReadKl(p.kl(), &o->kl);
  switch (p.baseline()) {
    case v1::BASELINE_KIND_BATCH_MEAN:
      o->baseline = BaselineKind::kBatchMean;
      break;
    case v1::BASELINE_KIND_NONE:
      o->baseline = BaselineKind::kNone;
      break;
    default:
      o->baseline = BaselineKind::kMovingAverage;
  }
  if (p.has_baseline_decay()) o->baseline_decay = p.baseline_decay();
  o->advantage_whitening = ReadWhitening(p.advantage_whitening(), Whitening::kNone);
  o->aggregation = ReadAggregation(p.loss_aggregation(), LossAggregation::kTokenMean);
  ReadShaping(p.reward_shaping(), &o->shaping);
}

}  // namespace plumb::clients::internal
