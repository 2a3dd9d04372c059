// Supervised fine-tuning: token-level NLL and sequence packing.
#ifndef PLUMB_COMMON_ALGORITHMS_SFT_LOSS_H_
#define PLUMB_COMMON_ALGORITHMS_SFT_LOSS_H_

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"

namespace plumb::algorithms {

// -sum(token_logps * mask) / sum(mask) over ALL tokens of the batch (token_logps, mask [B, T]):
// every response token weighs the same, so long responses count more than short ones (the
// convention of TRL SFTTrainer and OpenRLHF GPTLMLoss). 0-dim; NaN for an all-zero mask.
at::Tensor SftLoss(const at::Tensor& token_logps, const at::Tensor& mask);

struct SftExample {
  std::vector<int64_t> prompt;
  std::vector<int64_t> response;
};

struct PackOptions {
  int64_t max_length = 2048;  // row length L
  int64_t pad_token_id = 0;
  // Examples longer than max_length: false = INVALID_ARGUMENT, true = cut to max_length
  // (prompt first, then response).
  bool truncate = false;
};

// R rows of length L; every example sits whole in exactly one row (one "segment").
struct PackedBatch {
  at::Tensor input_ids;     // [R, L] int64, pad_token_id after the last segment
  at::Tensor position_ids;  // [R, L] int64, restarting at 0 in every segment; 0 at padding
  at::Tensor loss_mask;     // [R, L] float32, 1 where input_ids is a RESPONSE token (the
                            // label to predict from the previous position of its segment)
  at::Tensor segment_ids;   // [R, L] int64, 1..k for the k segments of a row; 0 at padding
  std::vector<std::vector<int64_t>> examples_per_row;  // example indices, in segment order
};

// Greedy first-fit in input order: each example goes into the first row with room for it (a
// new row when none has). Deterministic. INVALID_ARGUMENT for max_length < 1, an empty example,
// or (without truncate) an example longer than max_length, naming its index.
absl::StatusOr<PackedBatch> PackSequences(const std::vector<SftExample>& examples,
                                          const PackOptions& options);

// [R, L, L] bool: query i may attend key j iff both are in the same (non-padding) segment and
// j <= i. Block-diagonal causal attention, so no token sees another document.
at::Tensor SegmentCausalMask(const at::Tensor& segment_ids);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_SFT_LOSS_H_
