// Rejection sampling (best-of-K SFT): the best top_n samples of each prompt group of an experience
// batch by reward, then one SFT step on them; it also takes plain SFT batches.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {

LearnerAlgorithmKind RejectionSamplingAlgorithm() {
  return {
      .algorithm = Algorithm::kRejectionSamplingSft,
      .name = "rejection_sampling",
      .label = "rejection-sampling SFT",
      .batches = {TrainBatchKind::kExperience, TrainBatchKind::kSft},
      .on_policy = true,
      .rollout_update = RolloutUpdate::kBestOfGroupSft,
      .objective = "sft",
      .validate = [](const SessionOptions& o) -> absl::Status {
        const RejectionSamplingOptions& r = o.rejection_sampling;
        RETURN_IF_ERROR(
            option_checks::InRange("rejection_sampling.top_n_per_prompt", r.top_n, 1, kMaxTopN));
        if (r.min_reward) {
          RETURN_IF_ERROR(option_checks::Real("rejection_sampling.min_reward", *r.min_reward,
                                              {-kMaxAbsReward, kMaxAbsReward}));
        }
        return absl::OkStatus();
      },
  };
}

}  // namespace plumb::learner
