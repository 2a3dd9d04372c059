#include "common/algorithms/kl_estimator.h"

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

absl::StatusOr<KlEstimator> ParseKlEstimator(absl::string_view name) {
  if (name == "k1") return KlEstimator::kK1;
  if (name == "k2") return KlEstimator::kK2;
  if (name == "k3") return KlEstimator::kK3;
  return absl::InvalidArgumentError(
      absl::StrCat("kl_estimator: unknown value '", name, "'; use k1, k2 or k3"));
}

absl::string_view KlEstimatorName(KlEstimator estimator) {
  switch (estimator) {
    case KlEstimator::kK1:
      return "k1";
    case KlEstimator::kK2:
      return "k2";
    case KlEstimator::kK3:
      return "k3";
  }
  return "unknown";
}

}  // namespace plumb::algorithms
