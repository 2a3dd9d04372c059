#include "common/algorithms/sft_loss.h"

#include <algorithm>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace plumb::algorithms {

at::Tensor SftLoss(const at::Tensor& token_logps, const at::Tensor& mask) {
  return -(token_logps * mask).sum() / mask.sum();
}

absl::StatusOr<PackedBatch> PackSequences(const std::vector<SftExample>& examples,
                                          const PackOptions& options) {
  const int64_t max_length = options.max_length;
  if (max_length < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pack: max_length must be >= 1, got ", max_length));
  }
  // First-fit assignment of examples to rows, tracking each row's used length.
  std::vector<int64_t> used;
  std::vector<std::vector<int64_t>> rows;
  std::vector<int64_t> lengths(examples.size());
  for (size_t i = 0; i < examples.size(); ++i) {
    const int64_t total =
        static_cast<int64_t>(examples[i].prompt.size() + examples[i].response.size());
    if (total == 0)
      return absl::InvalidArgumentError(absl::StrCat("pack: example ", i, " is empty"));
    if (total > max_length && !options.truncate) {
      return absl::InvalidArgumentError(absl::StrCat("pack: example ", i, " has ", total,
                                                     " tokens > max_length ", max_length,
                                                     "; raise max_length or set truncate"));
    }
    lengths[i] = std::min(total, max_length);
    size_t row = 0;
    while (row < rows.size() && used[row] + lengths[i] > max_length) ++row;
    if (row == rows.size()) {
      rows.emplace_back();
      used.push_back(0);
    }
    rows[row].push_back(static_cast<int64_t>(i));
    used[row] += lengths[i];
  }

  const int64_t num_rows = static_cast<int64_t>(rows.size());
  PackedBatch out;
  out.input_ids = torch::full({num_rows, max_length}, options.pad_token_id, torch::kLong);
  out.position_ids = torch::zeros({num_rows, max_length}, torch::kLong);
  out.loss_mask = torch::zeros({num_rows, max_length}, torch::kFloat);
  out.segment_ids = torch::zeros({num_rows, max_length}, torch::kLong);
  auto ids = out.input_ids.accessor<int64_t, 2>();
  auto pos = out.position_ids.accessor<int64_t, 2>();
  auto loss = out.loss_mask.accessor<float, 2>();
  auto seg = out.segment_ids.accessor<int64_t, 2>();
  for (int64_t r = 0; r < num_rows; ++r) {
    int64_t col = 0;
    int64_t segment = 0;
    for (const int64_t index : rows[r]) {
      const SftExample& example = examples[index];
      ++segment;
      for (int64_t t = 0; t < lengths[index]; ++t, ++col) {
        const int64_t prompt_size = static_cast<int64_t>(example.prompt.size());
        const bool is_response = t >= prompt_size;
        ids[r][col] = is_response ? example.response[t - prompt_size] : example.prompt[t];
        pos[r][col] = t;
        loss[r][col] = is_response ? 1.0f : 0.0f;
        seg[r][col] = segment;
      }
    }
  }
  out.examples_per_row = std::move(rows);
  return out;
}

at::Tensor SegmentCausalMask(const at::Tensor& segment_ids) {
  const int64_t length = segment_ids.size(-1);
  const at::Tensor same = segment_ids.unsqueeze(-1) == segment_ids.unsqueeze(-2);
  const at::Tensor not_pad = (segment_ids != 0).unsqueeze(-1);
  const at::Tensor causal =
      torch::ones({length, length}, torch::TensorOptions().dtype(torch::kBool)).tril();
  return same.logical_and(not_pad).logical_and(causal);
}

}  // namespace plumb::algorithms
