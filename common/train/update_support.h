// Pieces the offline updates share: the backward hook and the statistics of pairs. Internal to
// common/train.
//
// Thread safety: plain functions.
#ifndef PLUMB_COMMON_TRAIN_UPDATE_SUPPORT_H_
#define PLUMB_COMMON_TRAIN_UPDATE_SUPPORT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "common/train/offline_updates.h"
#include "common/train/stat_sums.h"

namespace plumb::train {

// Back-propagates loss x context.loss_scale through context.backward (nothing when !train).
void Backpropagate(const UpdateContext& context, const at::Tensor& loss);

// Sum of a tensor as double (for statistics).
double SumOf(const at::Tensor& t);

// A float32 tensor of `values` on `device`.
at::Tensor FloatTensor(const std::vector<double>& values, const c10::Device& device);

// Adds log-prob statistics of policy chosen/rejected sequence sums and token counts:
// logps/chosen, logps/rejected, logp_margin (summed) and avg_logp_margin (per token).
void AddLogpMarginStats(const at::Tensor& chosen_sum, const at::Tensor& chosen_count,
                        const at::Tensor& rejected_sum, const at::Tensor& rejected_count,
                        StatSums* stats);

// Adds implicit- or explicit-reward statistics of pairs: rewards/chosen, rewards/rejected,
// rewards/margin and rewards/accuracy (the share of pairs whose chosen reward is higher).
void AddRewardStats(const at::Tensor& chosen, const at::Tensor& rejected, StatSums* stats);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_UPDATE_SUPPORT_H_
