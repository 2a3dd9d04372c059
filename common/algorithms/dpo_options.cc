#include "common/algorithms/dpo_options.h"

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

absl::Status ValidateDpoOptions(const DpoOptions& options) {
  const std::string& type = options.loss_type;
  if (type != "sigmoid" && type != "hinge" && type != "ipo" && type != "robust") {
    return absl::InvalidArgumentError(absl::StrCat("dpo.loss_type: unknown value '", type,
                                                   "'; use sigmoid, hinge, ipo or robust"));
  }
  if (!(options.beta > 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("dpo.beta: must be > 0, got ", options.beta));
  }
  if (!(options.label_smoothing >= 0.0 && options.label_smoothing < 0.5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("dpo.label_smoothing: must be in [0, 0.5), got ", options.label_smoothing));
  }
  if (options.label_smoothing != 0.0 && (type == "hinge" || type == "ipo")) {
    return absl::InvalidArgumentError(
        absl::StrCat("dpo.label_smoothing: not used by loss_type '", type, "'; set it to 0"));
  }
  if (options.ipo_log_ratio != "sum" && options.ipo_log_ratio != "mean") {
    return absl::InvalidArgumentError(absl::StrCat("dpo.ipo_log_ratio: unknown value '",
                                                   options.ipo_log_ratio, "'; use sum or mean"));
  }
  return absl::OkStatus();
}

}  // namespace plumb::algorithms
