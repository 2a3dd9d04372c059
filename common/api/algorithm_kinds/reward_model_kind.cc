// Reward model: one step of the Bradley-Terry loss (margins optional) on preference pairs or
// ranked groups, through the policy's reward head.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {

LearnerAlgorithmKind RewardModelAlgorithm() {
  using option_checks::kNonNegative;
  using option_checks::Real;
  return {
      .algorithm = Algorithm::kRewardModel,
      .name = "reward_model",
      .label = "reward-model",
      .batches = {TrainBatchKind::kPreference, TrainBatchKind::kRanked},
      .objective = "reward_model",
      .validate = [](const SessionOptions& o) -> absl::Status {
        RETURN_IF_ERROR(
            Real("reward_model.margin_scale", o.reward_model.margin_scale, kNonNegative));
        return Real("reward_model.center_rewards_coef", o.reward_model.center_rewards_coef,
                    kNonNegative);
      },
  };
}

}  // namespace plumb::learner
