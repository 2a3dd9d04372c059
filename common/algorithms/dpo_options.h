// DPO's options (dpo.h) and their validation, without LibTorch: what a learner session's
// options (common/api) embed.
#ifndef PLUMB_COMMON_ALGORITHMS_DPO_OPTIONS_H_
#define PLUMB_COMMON_ALGORITHMS_DPO_OPTIONS_H_

#include <string>

#include "absl/status/status.h"

namespace plumb::algorithms {

struct DpoOptions {
  std::string loss_type = "sigmoid";  // sigmoid | hinge | ipo | robust
  double beta = 0.1;                  // > 0
  double label_smoothing = 0.0;       // [0, 0.5); sigmoid (cDPO) and robust only
  bool reference_free = false;        // h uses no reference; rewards still do
  std::string ipo_log_ratio = "sum";  // "sum" (IPO paper, DPO authors) | "mean" (per-token, TRL)
};

// INVALID_ARGUMENT naming the field for an unknown loss_type / ipo_log_ratio, beta <= 0, or a
// label_smoothing outside [0, 0.5) or set for a loss type that ignores it.
absl::Status ValidateDpoOptions(const DpoOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_DPO_OPTIONS_H_
