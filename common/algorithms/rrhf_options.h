// RRHF's options (rrhf.h) and their validation, without LibTorch: what a learner session's
// options (common/api) embed.
#ifndef PLUMB_COMMON_ALGORITHMS_RRHF_OPTIONS_H_
#define PLUMB_COMMON_ALGORITHMS_RRHF_OPTIONS_H_

#include <string>

#include "absl/status/status.h"

namespace plumb::algorithms {

struct RrhfOptions {
  double rrhf_weight = 1.0;
  double length_penalty = 1.0;
  std::string length_mode = "response";  // "response" (paper) | "padded" (reference code)
  std::string sft_reduction = "sum";     // "sum" (paper) | "padded_mean" (reference)
};

// INVALID_ARGUMENT naming the field for an unknown length_mode / sft_reduction or a negative
// rrhf_weight.
absl::Status ValidateRrhfOptions(const RrhfOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_RRHF_OPTIONS_H_
