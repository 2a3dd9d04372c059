#include "common/algorithms/rrhf.h"

#include <torch/torch.h>

namespace plumb::algorithms {

RrhfLoss ComputeRrhfLoss(const at::Tensor& token_logps, const at::Tensor& label_mask,
                         const at::Tensor& rw_scores, const RrhfOptions& options) {
  // A precondition (callers validate first); reached anyway, a ValueError that the model
  // boundary reports as INVALID_ARGUMENT naming the field.
  const absl::Status valid = ValidateRrhfOptions(options);
  TORCH_CHECK_VALUE(valid.ok(), valid.message());
  // Shape preconditions: internal invariants (the caller builds these tensors).
  TORCH_CHECK(token_logps.dim() == 2 && label_mask.sizes() == token_logps.sizes(),
              "ComputeRrhfLoss: token_logps and label_mask must both be [C, L]");
  TORCH_CHECK(rw_scores.dim() == 1 && rw_scores.size(0) == token_logps.size(0),
              "ComputeRrhfLoss: rw_scores must be [C]");
  const int64_t padded_length = token_logps.size(1);
  const at::Tensor summed = (token_logps * label_mask).sum(-1);  // [C]

  RrhfLoss out;
  if (options.length_mode == "padded") {
    out.scores = summed / std::pow(static_cast<double>(padded_length), options.length_penalty);
  } else {
    out.scores = summed / label_mask.sum(-1).to(summed.scalar_type()).pow(options.length_penalty);
  }
  // diff[i][j] = p_i - p_j, counted where candidate j has the strictly higher reward.
  const at::Tensor rw = rw_scores.detach();
  const at::Tensor diff = out.scores.unsqueeze(1) - out.scores.unsqueeze(0);
  const at::Tensor better = (rw.unsqueeze(0) > rw.unsqueeze(1)).to(diff.scalar_type());
  out.rank_loss = (at::relu(diff) * better).sum();

  const at::Tensor best = rw.argmax();
  const at::Tensor best_sum = summed.index({best});
  out.sft_loss =
      options.sft_reduction == "sum" ? -best_sum : -best_sum / static_cast<double>(padded_length);
  out.loss = options.rrhf_weight * out.rank_loss + out.sft_loss;
  return out;
}

}  // namespace plumb::algorithms
