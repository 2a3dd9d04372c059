#include "common/algorithms/kto_options.h"

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

absl::Status ValidateKtoOptions(const KtoOptions& options) {
  if (!(options.beta > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("kto.beta: must be > 0, got ", options.beta));
  }
  if (!(options.desirable_weight >= 0.0) || !(options.undesirable_weight >= 0.0)) {
    return absl::InvalidArgumentError("kto.desirable_weight / undesirable_weight: must be >= 0");
  }
  if (options.kl_average != "all_rows" && options.kl_average != "nonzero_rows") {
    return absl::InvalidArgumentError(absl::StrCat(
        "kto.kl_average: unknown value '", options.kl_average, "'; use all_rows or nonzero_rows"));
  }
  return absl::OkStatus();
}

}  // namespace plumb::algorithms
