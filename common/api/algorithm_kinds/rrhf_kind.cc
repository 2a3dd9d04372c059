// RRHF: the ranking loss over K ranked responses plus SFT on the best, on ranked groups.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {

LearnerAlgorithmKind RrhfAlgorithm() {
  return {
      .algorithm = Algorithm::kRrhf,
      .name = "rrhf",
      .label = "RRHF",
      .batches = {TrainBatchKind::kRanked},
      .objective = "rrhf",
      .validate = [](const SessionOptions& o) -> absl::Status {
        RETURN_IF_ERROR(
            option_checks::Real("rrhf.sft_weight", o.rrhf_sft_weight, option_checks::kNonNegative));
        return algorithms::ValidateRrhfOptions(o.rrhf);
      },
  };
}

}  // namespace plumb::learner
