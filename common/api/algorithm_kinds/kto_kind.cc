// KTO: one step on unpaired desirable / undesirable examples against the batch's reference point
// (the examples' mismatched pairs, or zero).
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {

LearnerAlgorithmKind KtoAlgorithm() {
  using option_checks::kPositive;
  using option_checks::Real;
  return {
      .algorithm = Algorithm::kKto,
      .name = "kto",
      .label = "KTO",
      .batches = {TrainBatchKind::kUnpaired},
      .objective = "kto",
      .validate = [](const SessionOptions& o) -> absl::Status {
        RETURN_IF_ERROR(Real("kto.beta", o.kto.beta, kPositive));
        RETURN_IF_ERROR(Real("kto.desirable_weight", o.kto.desirable_weight, kPositive));
        RETURN_IF_ERROR(Real("kto.undesirable_weight", o.kto.undesirable_weight, kPositive));
        return algorithms::ValidateKtoOptions(o.kto);
      },
  };
}

}  // namespace plumb::learner
