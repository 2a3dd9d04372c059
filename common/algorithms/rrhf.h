// RRHF (Yuan et al., 2023): rank C candidate responses of one query by their reward and push
// the policy's length-normalised log-probs into the same order, plus SFT on the best one.
//   p_i       = sum_t token_logps[i,t] / n_i^length_penalty
//   rank_loss = sum over pairs (i, j) with rw_j > rw_i and p_j < p_i of (p_i - p_j)
//   loss      = rrhf_weight * rank_loss + sft_loss
// n_i is |y_i| (label_mask row sum, the paper; length_mode "response", default) or L, the padded
// column count (length_mode "padded": what GanjinZero/RRHF executes, since it overwrites the
// -100 labels before building its mask). Ties in rw give no pair.
// sft_loss (best = FIRST argmax of rw): sft_reduction "sum" (default) is the paper's
// -sum_t log p of the best response; "padded_mean" is -sum_t token_logps[best,t] / L, the
// reference code's mean over the padded row (what both length modes of the golden file use).
// The defaults are the paper's form; "padded" + "padded_mean" reproduce the reference code.
#ifndef PLUMB_COMMON_ALGORITHMS_RRHF_H_
#define PLUMB_COMMON_ALGORITHMS_RRHF_H_

#include <ATen/core/Tensor.h>

#include "common/algorithms/rrhf_options.h"

namespace plumb::algorithms {

struct RrhfLoss {
  at::Tensor scores;     // [C] p_i
  at::Tensor rank_loss;  // scalar
  at::Tensor sft_loss;   // scalar
  at::Tensor loss;       // scalar
};

// token_logps [C, L]: log pi(label_t | prefix), 0 (or masked) outside label_mask [C, L];
// rw_scores [C]: candidate rewards (constants). Differentiable w.r.t. token_logps.
// Precondition: ValidateRrhfOptions(options).ok(); violations throw c10::ValueError
// (INVALID_ARGUMENT at a model boundary).
RrhfLoss ComputeRrhfLoss(const at::Tensor& token_logps, const at::Tensor& label_mask,
                         const at::Tensor& rw_scores, const RrhfOptions& options);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_RRHF_H_
