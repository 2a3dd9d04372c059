// ORPO: NLL of the chosen responses plus the odds-ratio term, on preference pairs; no reference.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"

namespace plumb::learner {

LearnerAlgorithmKind OrpoAlgorithm() {
  return {
      .algorithm = Algorithm::kOrpo,
      .name = "orpo",
      .label = "ORPO",
      .batches = {TrainBatchKind::kPreference},
      .objective = "orpo",
      .validate =
          [](const SessionOptions& o) {
            return option_checks::Real("orpo.odds_ratio_weight", o.orpo_weight,
                                       option_checks::kPositive);
          },
  };
}

}  // namespace plumb::learner
