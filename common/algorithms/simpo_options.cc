#include "common/algorithms/simpo_options.h"

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

absl::Status ValidateSimpoOptions(const SimpoOptions& options) {
  if (!(options.beta > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("simpo.beta: must be > 0, got ", options.beta));
  }
  if (!(options.cpo_alpha >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("simpo.cpo_alpha: must be >= 0, got ", options.cpo_alpha));
  }
  if (!(options.label_smoothing >= 0.0 && options.label_smoothing < 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("simpo.label_smoothing: must be in [0, 0.5), got ", options.label_smoothing));
  }
  return absl::OkStatus();
}

}  // namespace plumb::algorithms
