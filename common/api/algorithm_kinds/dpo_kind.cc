// DPO and its variants on preference pairs (IPO and cDPO are DPO with another loss or label
// smoothing), with the RPO term (+ sft_weight x the chosen responses' NLL).
#include "common/api/algorithm_kinds/builtin_algorithm_kinds.h"
#include "common/api/learner_option_checks.h"
#include "common/status/status_macros.h"

namespace plumb::learner {

LearnerAlgorithmKind DpoAlgorithm() {
  using option_checks::Real;
  return {
      .algorithm = Algorithm::kDpo,
      .name = "dpo",
      .label = "DPO",
      .batches = {TrainBatchKind::kPreference},
      .objective = "dpo",
      // learner.proto: IPO's log-ratio is per-token unless ipo_length_normalize says otherwise.
      .defaults = [](SessionOptions& o) { o.dpo.ipo_log_ratio = "mean"; },
      .validate = [](const SessionOptions& o) -> absl::Status {
        RETURN_IF_ERROR(Real("dpo.beta", o.dpo.beta, option_checks::kPositive));
        RETURN_IF_ERROR(
            Real("dpo.label_smoothing", o.dpo.label_smoothing, option_checks::kLabelSmoothing));
        RETURN_IF_ERROR(Real("dpo.sft_weight", o.dpo_sft_weight, option_checks::kNonNegative));
        return algorithms::ValidateDpoOptions(o.dpo);
      },
      .needs_reference = [](const SessionOptions& o) { return !o.dpo.reference_free; },
  };
}

}  // namespace plumb::learner
