#include "common/algorithms/rejection_sampling.h"

#include <cmath>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

absl::StatusOr<BestOfK> SelectBestOfK(const std::vector<double>& rewards, int64_t k) {
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("best-of-k: k must be >= 1, got ", k));
  const int64_t n = static_cast<int64_t>(rewards.size());
  if (n % k != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("best-of-k: ", n, " rewards are not a multiple of k = ", k));
  }
  BestOfK out;
  for (int64_t p = 0; p < n / k; ++p) {
    int64_t best = -1;
    for (int64_t j = 0; j < k; ++j) {
      const double r = rewards[p * k + j];
      if (std::isnan(r)) continue;
      // Strictly greater: an equal later reward does not displace the earlier one.
      if (best < 0 || r > rewards[p * k + best]) best = j;
    }
    if (best < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("best-of-k: every reward of prompt ", p, " is NaN"));
    }
    out.best_in_group.push_back(best);
    out.flat_index.push_back(p * k + best);
    out.best_reward.push_back(rewards[p * k + best]);
  }
  return out;
}

absl::StatusOr<BestOfK> SelectBestOfK(const at::Tensor& rewards, int64_t k) {
  if (!rewards.defined() || rewards.dim() != 1) {
    return absl::InvalidArgumentError("best-of-k: rewards must be a 1-D tensor");
  }
  const at::Tensor values = rewards.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* data = values.data_ptr<double>();
  return SelectBestOfK(std::vector<double>(data, data + values.numel()), k);
}

}  // namespace plumb::algorithms
