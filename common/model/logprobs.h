// Teacher-forced per-token log-probs of given responses (what the reference service, the
// learner and the DPO family need): log p(response_t | prompt, response_<t), with the prompt and
// padding masked out. Logits are computed only at the positions that predict response tokens.
//
// Thread safety: runs on the caller's thread, which must own the model.
#ifndef PLUMB_COMMON_MODEL_LOGPROBS_H_
#define PLUMB_COMMON_MODEL_LOGPROBS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"

namespace plumb::model {

struct ResponseScores {
  at::Tensor logprobs;     // [B, R] float32, 0 where mask is 0; R = longest response
  at::Tensor mask;         // [B, R] float32, 1 for response tokens
  at::Tensor hidden;       // [B, R, H] final hidden states at the predicting positions
  at::Tensor last_hidden;  // [B, H] hidden state at each row's last token (for value/reward)
  // [B, H] what the reward head reads under the model's config.reward_readout: last_hidden, or
  // the mean of the final hidden states at the response's tokens (an empty response: its
  // prompt's last token). Rewards(reward_hidden) is every reward model's score.
  at::Tensor reward_hidden;
  // [B, R] float32 entropy of each predicting position's (temperature-scaled) distribution, 0
  // where mask is 0; only when ScoreResponses is asked for it (same logits, no second pass).
  at::Tensor entropy;
};

// INVALID_ARGUMENT for: mismatched counts, an empty prompt, a token id outside the vocabulary,
// a sequence longer than max_position_embeddings. Empty responses are allowed (all-zero mask).
absl::Status ValidateSequences(const ModelConfig& config,
                               const std::vector<std::vector<int64_t>>& prompts,
                               const std::vector<std::vector<int64_t>>& responses);

// Runs under the caller's grad mode: differentiable when grad is enabled (training).
// `temperature` divides the logits first (the sampling temperature of the rollouts).
absl::StatusOr<ResponseScores> ScoreResponses(TransformerImpl& model,
                                              const std::vector<std::vector<int64_t>>& prompts,
                                              const std::vector<std::vector<int64_t>>& responses,
                                              double temperature = 1.0, bool with_entropy = false);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_LOGPROBS_H_
