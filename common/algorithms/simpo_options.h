// SimPO's options (simpo.h) and their validation, without LibTorch: what a learner session's
// options (common/api) embed.
#ifndef PLUMB_COMMON_ALGORITHMS_SIMPO_OPTIONS_H_
#define PLUMB_COMMON_ALGORITHMS_SIMPO_OPTIONS_H_

#include "absl/status/status.h"

namespace plumb::algorithms {

struct SimpoOptions {
  double beta = 2.0;
  double gamma = 1.0;  // absolute margin (TRL's simpo_gamma); TRL's logits subtract gamma/beta
  double cpo_alpha = 0.0;
  double label_smoothing = 0.0;  // [0, 0.5)
};

// INVALID_ARGUMENT for beta <= 0, cpo_alpha < 0 or label_smoothing outside [0, 0.5).
absl::Status ValidateSimpoOptions(const SimpoOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_SIMPO_OPTIONS_H_
