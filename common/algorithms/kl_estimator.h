// The KL estimators of kl.h by name, without LibTorch: what a learner session's options
// (common/api) and their readers name.
#ifndef PLUMB_COMMON_ALGORITHMS_KL_ESTIMATOR_H_
#define PLUMB_COMMON_ALGORITHMS_KL_ESTIMATOR_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::algorithms {

enum class KlEstimator { kK1, kK2, kK3 };

// "k1" | "k2" | "k3"; INVALID_ARGUMENT otherwise.
absl::StatusOr<KlEstimator> ParseKlEstimator(absl::string_view name);
absl::string_view KlEstimatorName(KlEstimator estimator);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_KL_ESTIMATOR_H_
