#include "common/algorithms/rrhf_options.h"

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

absl::Status ValidateRrhfOptions(const RrhfOptions& options) {
  if (options.length_mode != "response" && options.length_mode != "padded") {
    return absl::InvalidArgumentError(absl::StrCat(
        "rrhf.length_mode: unknown value '", options.length_mode, "'; use response or padded"));
  }
  if (options.sft_reduction != "padded_mean" && options.sft_reduction != "sum") {
    return absl::InvalidArgumentError(absl::StrCat(
        "rrhf.sft_reduction: unknown value '", options.sft_reduction, "'; use padded_mean or sum"));
  }
  if (!(options.rrhf_weight >= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rrhf.rrhf_weight: must be >= 0, got ", options.rrhf_weight));
  }
  return absl::OkStatus();
}

}  // namespace plumb::algorithms
