// Range checks of learner session options, shared by SessionOptions::Validate and the algorithm
// kinds' own validations (algorithm_kinds/). Every failure is INVALID_ARGUMENT naming the
// TrainingConfig field as a caller wrote it: "config.<name>: must be in [1, 100], got 0".
//
// Thread safety: plain functions.
#ifndef PLUMB_COMMON_API_LEARNER_OPTION_CHECKS_H_
#define PLUMB_COMMON_API_LEARNER_OPTION_CHECKS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/api/learner_limits.h"
#include "common/api/learner_options.h"

namespace plumb::learner::option_checks {

// INVALID_ARGUMENT "config.<name>: <problem>".
absl::Status Field(const std::string& name, const std::string& problem);

// OK when min <= value <= max.
absl::Status InRange(const std::string& name, int64_t value, int64_t min, int64_t max);

// A real-valued option within [min, max] (or an open end), finite.
struct Range {
  double min, max;
  bool min_open = false, max_open = false;
};
absl::Status Real(const std::string& name, double value, Range range);

inline constexpr Range kPositive{0, kMaxCoefficient, true};
inline constexpr Range kNonNegative{0, kMaxCoefficient};
inline constexpr Range kAny{-kMaxCoefficient, kMaxCoefficient};
inline constexpr Range kUnit{0, 1};
inline constexpr Range kOpenUnit{0, 1, true, true};
inline constexpr Range kHalfOpenUnit{0, 1, false, true};
inline constexpr Range kClipHigh{0, 10, true};
inline constexpr Range kLabelSmoothing{0, 0.5, false, true};

// The reward shaping of a policy-gradient algorithm whose options sit under `prefix` ("ppo").
absl::Status RewardShaping(const std::string& prefix, const RewardShapingOptions& shaping);

}  // namespace plumb::learner::option_checks

#endif  // PLUMB_COMMON_API_LEARNER_OPTION_CHECKS_H_
