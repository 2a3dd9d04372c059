#include "common/api/learner_option_checks.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"

namespace plumb::learner::option_checks {

absl::Status Field(const std::string& name, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat("config.", name, ": ", problem));
}

absl::Status InRange(const std::string& name, int64_t value, int64_t min, int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return Field(name, absl::StrCat("must be in [", min, ", ", max, "], got ", value));
}

absl::Status Real(const std::string& name, double value, Range r) {
  const bool above = r.min_open ? value > r.min : value >= r.min;
  const bool below = r.max_open ? value < r.max : value <= r.max;
  if (std::isfinite(value) && above && below) return absl::OkStatus();
  return Field(name, absl::StrFormat("must be in %s%g, %g%s, got %g", r.min_open ? "(" : "[", r.min,
                                     r.max, r.max_open ? ")" : "]", value));
}

absl::Status RewardShaping(const std::string& prefix, const RewardShapingOptions& o) {
  if (o.reward_clip) {
    RETURN_IF_ERROR(Real(prefix + ".reward_shaping.reward_clip", *o.reward_clip, kPositive));
  }
  if (o.no_eos_penalty) {
    RETURN_IF_ERROR(Real(prefix + ".reward_shaping.no_eos_penalty", *o.no_eos_penalty, kAny));
  }
  return absl::OkStatus();
}

}  // namespace plumb::learner::option_checks
