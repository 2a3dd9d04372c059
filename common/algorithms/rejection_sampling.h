// Rejection sampling / best-of-K (Llama 2 sec. 3.2.3): keep the highest-reward response of the
// K sampled for each prompt. Rewards are [P * K] with each prompt's K samples CONTIGUOUS.
// Ties: the LOWEST index among the maxima wins (deterministic). NaN rewards never win.
#ifndef PLUMB_COMMON_ALGORITHMS_REJECTION_SAMPLING_H_
#define PLUMB_COMMON_ALGORITHMS_REJECTION_SAMPLING_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"

namespace plumb::algorithms {

struct BestOfK {
  std::vector<int64_t> best_in_group;  // [P] index j in [0, K) of the winner of each prompt
  std::vector<int64_t> flat_index;     // [P] p * K + j, the winner's index into rewards
  std::vector<double> best_reward;     // [P]
};

// INVALID_ARGUMENT if k < 1, rewards.size() is not a multiple of k, or a whole group is NaN
// (naming the prompt).
absl::StatusOr<BestOfK> SelectBestOfK(const std::vector<double>& rewards, int64_t k);
// rewards: 1-D tensor [P * K] of any floating dtype (read as float64).
absl::StatusOr<BestOfK> SelectBestOfK(const at::Tensor& rewards, int64_t k);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_REJECTION_SAMPLING_H_
