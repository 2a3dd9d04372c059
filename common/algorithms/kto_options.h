// KTO's options (kto.h) and their validation, without LibTorch: what a learner session's
// options (common/api) embed.
#ifndef PLUMB_COMMON_ALGORITHMS_KTO_OPTIONS_H_
#define PLUMB_COMMON_ALGORITHMS_KTO_OPTIONS_H_

#include <string>

#include "absl/status/status.h"

namespace plumb::algorithms {

struct KtoOptions {
  double beta = 0.1;
  double desirable_weight = 1.0;
  double undesirable_weight = 1.0;
  // How the KL estimate averages the mismatched rows: "all_rows" (TRL: mean over every row) or
  // "nonzero_rows" (HALOs: sum / max(1, #rows whose log-ratio sum is non-zero), which ignores
  // empty completions).
  std::string kl_average = "all_rows";
};

// INVALID_ARGUMENT for beta <= 0, a negative weight or an unknown kl_average.
absl::Status ValidateKtoOptions(const KtoOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_KTO_OPTIONS_H_
