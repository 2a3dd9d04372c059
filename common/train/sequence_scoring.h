// Teacher-forced log-probabilities of tokenized (prompt, response) rows under a model, in the
// shapes the training updates consume.
//
// LibTorch errors propagate (as exceptions) to the caller's model boundary.
//
// Thread safety: call on the thread that owns the model.
#ifndef PLUMB_COMMON_TRAIN_SEQUENCE_SCORING_H_
#define PLUMB_COMMON_TRAIN_SEQUENCE_SCORING_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"

namespace plumb::train {

struct SequenceScores {
  at::Tensor token_logps;    // [B, R] float32, 0 outside the mask
  at::Tensor mask;           // [B, R] float32, 1 on scored tokens
  at::Tensor sum;            // [B] sum of token_logps
  at::Tensor count;          // [B] number of scored tokens
  at::Tensor last_hidden;    // [B, H] final hidden state at each row's last token
  at::Tensor reward_hidden;  // [B, H] the reward head's input (model::ResponseScores)
};

// Rows to score: prompts[i] (never empty) followed by responses[i].
struct TokenRows {
  std::vector<std::vector<int64_t>> prompts, responses;
  void Add(const std::vector<int64_t>& prompt, const std::vector<int64_t>& response) {
    prompts.push_back(prompt);
    responses.push_back(response);
  }
  int64_t size() const { return static_cast<int64_t>(prompts.size()); }
};

// Scores the response tokens of each row (prompt and padding masked).
absl::StatusOr<SequenceScores> ScoreRows(model::TransformerImpl& model, const TokenRows& rows);

// Scores every token after the first (prompt AND response), for objectives whose NLL covers the
// prompt (ORPO). `response_mask` [B, R] marks the positions that predict response tokens.
struct WholeSequenceScores {
  SequenceScores all;  // mask = every predicted token
  at::Tensor response_mask;
};
absl::StatusOr<WholeSequenceScores> ScoreWholeRows(model::TransformerImpl& model,
                                                   const TokenRows& rows);

// Log-probs [N] (float32) of every token marked in `loss_mask` of packed rows, each predicted from
// the previous position of its own segment (rows from algorithms::PackSequences: input_ids,
// position_ids, segment_ids and loss_mask [R, L]). Attention never crosses segments.
absl::StatusOr<at::Tensor> ScorePackedTokens(model::TransformerImpl& model,
                                             const at::Tensor& input_ids,
                                             const at::Tensor& position_ids,
                                             const at::Tensor& segment_ids,
                                             const at::Tensor& loss_mask);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_SEQUENCE_SCORING_H_
