// GRPO, RLOO and REINFORCE with a baseline: one advantage per sequence, no critic, then epochs
// of minibatches of the (clipped) policy-gradient surrogate. They share CriticFreeOptions and
// differ in how rewards become advantages (SequenceAdvantage) and in GRPO's defaults.
#include <string>

#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {
namespace {

using option_checks::InRange;
using option_checks::Real;

// The checks of SessionOptions::critic_free, named under the kind's TrainingConfig field.
std::function<absl::Status(const SessionOptions&)> ValidateCriticFree(const std::string& name) {
  return [name](const SessionOptions& o) -> absl::Status {
    const CriticFreeOptions& c = o.critic_free;
    RETURN_IF_ERROR(InRange(name + ".epochs", c.epochs, 1, kMaxEpochs));
    RETURN_IF_ERROR(InRange(name + ".minibatch_size", c.minibatch_size, 0, kMaxBatchItems));
    if (c.clip_low) {
      RETURN_IF_ERROR(
          Real(name + ".clip_range / clip_range_low", *c.clip_low, option_checks::kOpenUnit));
    }
    if (c.clip_high) {
      RETURN_IF_ERROR(
          Real(name + ".clip_range / clip_range_high", *c.clip_high, option_checks::kClipHigh));
    }
    RETURN_IF_ERROR(Real(name + ".kl.coef", c.kl.coef, option_checks::kNonNegative));
    RETURN_IF_ERROR(Real(name + ".baseline_decay", c.baseline_decay, option_checks::kHalfOpenUnit));
    return option_checks::RewardShaping(name, c.shaping);
  };
}

LearnerAlgorithmKind CriticFree(Algorithm algorithm, const std::string& name,
                                const std::string& label, SequenceAdvantage advantage) {
  return {
      .algorithm = algorithm,
      .name = name,
      .label = label,
      .batches = {TrainBatchKind::kExperience},
      .on_policy = true,
      .rollout_update = RolloutUpdate::kCriticFree,
      .advantage = advantage,
      .validate = ValidateCriticFree(name),
      // The KL to the reference needs its log-prob of every response token.
      .needs_reference = [](const SessionOptions& o) { return o.critic_free.kl.coef > 0; },
  };
}

}  // namespace

LearnerAlgorithmKind GrpoAlgorithm() {
  LearnerAlgorithmKind kind =
      CriticFree(Algorithm::kGrpo, "grpo", "GRPO", SequenceAdvantage::kGroupNormalized);
  // learner.proto's GRPO: clipped at 0.2, a k3 KL of 0.04 in its sequence-mean loss.
  kind.defaults = [](SessionOptions& o) {
    o.critic_free.clip_low = o.critic_free.clip_high = 0.2;
    o.critic_free.kl = {.estimator = algorithms::KlEstimator::kK3, .in_loss = true, .coef = 0.04};
    o.critic_free.aggregation = LossAggregation::kSequenceMean;
  };
  return kind;
}

LearnerAlgorithmKind RlooAlgorithm() {
  return CriticFree(Algorithm::kRloo, "rloo", "RLOO", SequenceAdvantage::kLeaveOneOut);
}

LearnerAlgorithmKind ReinforceAlgorithm() {
  return CriticFree(Algorithm::kReinforce, "reinforce", "REINFORCE", SequenceAdvantage::kBaseline);
}

}  // namespace plumb::learner
