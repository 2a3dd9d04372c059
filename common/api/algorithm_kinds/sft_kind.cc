// SFT: one step of token-mean cross-entropy on the completions of an SFT batch.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"

namespace plumb::learner {

LearnerAlgorithmKind SftAlgorithm() {
  return {
      .algorithm = Algorithm::kSft,
      .name = "sft",
      .label = "SFT",
      .batches = {TrainBatchKind::kSft},
      .objective = "sft",
  };
}

}  // namespace plumb::learner
