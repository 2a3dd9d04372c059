// SimPO: the length-normalised margin loss on preference pairs (+ the CPO NLL term); no reference.
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {

LearnerAlgorithmKind SimpoAlgorithm() {
  using option_checks::Real;
  return {
      .algorithm = Algorithm::kSimpo,
      .name = "simpo",
      .label = "SimPO",
      .batches = {TrainBatchKind::kPreference},
      .objective = "simpo",
      .defaults = [](SessionOptions& o) { o.simpo.gamma = 0.5; },  // learner.proto's default
      .validate = [](const SessionOptions& o) -> absl::Status {
        RETURN_IF_ERROR(Real("simpo.beta", o.simpo.beta, option_checks::kPositive));
        RETURN_IF_ERROR(Real("simpo.gamma", o.simpo.gamma, option_checks::kNonNegative));
        RETURN_IF_ERROR(
            Real("simpo.label_smoothing", o.simpo.label_smoothing, option_checks::kLabelSmoothing));
        RETURN_IF_ERROR(Real("simpo.sft_weight", o.simpo.cpo_alpha, option_checks::kNonNegative));
        return algorithms::ValidateSimpoOptions(o.simpo);
      },
  };
}

}  // namespace plumb::learner
