// PPO: critic values (the policy's value head or a separate critic), KL-shaped rewards, GAE,
// whitened advantages, then epochs of minibatches of the clipped surrogate and value loss.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {
namespace {

using option_checks::Field;
using option_checks::InRange;
using option_checks::Real;

absl::Status ValidatePpo(const SessionOptions& o) {
  const PpoOptions& p = o.ppo;
  RETURN_IF_ERROR(InRange("ppo.epochs", p.epochs, 1, kMaxEpochs));
  RETURN_IF_ERROR(InRange("ppo.minibatch_size", p.minibatch_size, 0, kMaxBatchItems));
  RETURN_IF_ERROR(InRange("ppo.kl.adaptive.horizon", p.kl_horizon, 1, kMaxKlHorizon));
  RETURN_IF_ERROR(Real("ppo.clip_range / clip_range_low", p.clip_low, option_checks::kOpenUnit));
  RETURN_IF_ERROR(Real("ppo.clip_range / clip_range_high", p.clip_high, option_checks::kClipHigh));
  if (p.dual_clip) RETURN_IF_ERROR(Real("ppo.dual_clip", *p.dual_clip, {1, kMaxCoefficient, true}));
  if (p.value_clip) {
    RETURN_IF_ERROR(Real("ppo.value_clip_range", *p.value_clip, option_checks::kPositive));
  }
  RETURN_IF_ERROR(Real("ppo.gamma", p.gamma, option_checks::kUnit));
  RETURN_IF_ERROR(Real("ppo.gae_lambda", p.lambda, option_checks::kUnit));
  RETURN_IF_ERROR(Real("ppo.kl.coef", p.kl_coef, option_checks::kNonNegative));
  if (p.kl_target) {
    RETURN_IF_ERROR(Real("ppo.kl.adaptive.target", *p.kl_target, option_checks::kPositive));
  }
  RETURN_IF_ERROR(Real("ppo.value_loss_coef", p.value_loss_coef, option_checks::kNonNegative));
  RETURN_IF_ERROR(Real("ppo.entropy_coef", p.entropy_coef, option_checks::kAny));
  if (p.early_stop_kl) {
    RETURN_IF_ERROR(Real("ppo.early_stop_kl", *p.early_stop_kl, option_checks::kPositive));
  }
  if (p.tis_cap) {
    if (!p.recompute_behavior_logprobs) {
      return Field("ppo.tis_cap",
                   "needs recompute_behavior_logprobs (the weight is the recomputed over the "
                   "rollout's log-probs)");
    }
    RETURN_IF_ERROR(Real("ppo.tis_cap", *p.tis_cap, {1, kMaxCoefficient, true}));
  }
  if (p.critic_learning_rate) {
    if (!p.separate_critic) {
      return Field("ppo.critic_learning_rate",
                   "needs critic = CRITIC_KIND_SEPARATE (the value head shares the policy's "
                   "optimizer)");
    }
    RETURN_IF_ERROR(
        Real("ppo.critic_learning_rate", *p.critic_learning_rate, option_checks::kPositive));
  }
  return option_checks::RewardShaping("ppo", p.shaping);
}

}  // namespace

LearnerAlgorithmKind PpoAlgorithm() {
  return {
      .algorithm = Algorithm::kPpo,
      .name = "ppo",
      .label = "PPO",
      .batches = {TrainBatchKind::kExperience},
      .on_policy = true,
      .rollout_update = RolloutUpdate::kPpo,
      .validate = ValidatePpo,
      // The KL penalty needs the reference's log-prob of every response token.
      .needs_reference = [](const SessionOptions& o) { return o.ppo.kl_coef > 0; },
  };
}

}  // namespace plumb::learner
