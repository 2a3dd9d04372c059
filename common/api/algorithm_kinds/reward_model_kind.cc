// Reward model: the Bradley-Terry loss (margins optional) on preference pairs or ranked groups,
// through the policy's reward head; one step per call, or epochs of minibatches.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {

LearnerAlgorithmKind RewardModelAlgorithm() {
  using option_checks::InRange;
  using option_checks::kNonNegative;
  using option_checks::Real;
  return {
      .algorithm = Algorithm::kRewardModel,
      .name = "reward_model",
      .label = "reward-model",
      .batches = {TrainBatchKind::kPreference, TrainBatchKind::kRanked},
      .objective = "reward_model",
      .validate = [](const SessionOptions& o) -> absl::Status {
        const RewardModelTrainingOptions& r = o.reward_model;
        RETURN_IF_ERROR(InRange("reward_model.epochs", r.epochs, 1, kMaxEpochs));
        RETURN_IF_ERROR(
            InRange("reward_model.minibatch_size", r.minibatch_size, 0, kMaxBatchItems));
        if ((r.epochs > 1 || r.minibatch_size > 0) && o.gradient_accumulation_steps > 1) {
          return option_checks::Field(
              "reward_model.epochs",
              "several passes or minibatches step within the call; set "
              "optimizer.gradient_accumulation_steps to 1 or use one pass of the whole batch");
        }
        RETURN_IF_ERROR(
            Real("reward_model.margin_scale", o.reward_model.margin_scale, kNonNegative));
        return Real("reward_model.center_rewards_coef", o.reward_model.center_rewards_coef,
                    kNonNegative);
      },
  };
}

}  // namespace plumb::learner
