// Batched autoregressive sampling with a preallocated KV cache.
//
// K samples for each of P prompts run as one batch of P*K rows. Prompts are left-padded to a
// common length, so every row decodes in lock step; positions and masks make each row compute
// exactly what it would alone. Randomness is counter-based: the uniform number behind sample k
// of a prompt at step t is a hash of (seed, the prompt's token ids, k, t), so a row draws the
// same numbers whatever else is in the batch — batched sampling gives the same tokens as sampling
// each prompt alone with the same seed (and the same prompt twice gives the same samples).
//
// Top-k and top-p keep every token at or above a threshold logit (so tokens tied at the edge
// stay in); the kept tokens are then drawn by inverse CDF in token-id order.
//
// Returned log-probs are log-softmax(logits / temperature) at the sampled token, before top-k /
// top-p filtering (what a learner recomputes for PPO); with temperature 0 (greedy) the
// temperature is taken as 1.
//
// Thread safety: runs on the caller's thread, which must own the model for the duration.
#ifndef PLUMB_COMMON_MODEL_SAMPLER_H_
#define PLUMB_COMMON_MODEL_SAMPLER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"

namespace plumb::model {

// The smallest positive temperature anything samples or scores at. Below it, logits / temperature
// overflow float32 (1e-45 turned logits into +-inf and sampled token -1); 0 still means greedy.
inline constexpr double kMinTemperature = 1e-5;

struct SamplingOptions {
  double temperature = 1.0;  // 0 = greedy (argmax)
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = all
  double top_p = 1.0;        // keep the smallest set whose probability reaches top_p
  int64_t max_new_tokens = 64;
  // Stop tokens cannot be sampled before this many tokens (their probability is set to 0 for
  // sampling; the reported log-prob is still the token's under the full distribution, the one
  // the learner and the reference evaluate). 0 = no minimum; <= max_new_tokens.
  int64_t min_new_tokens = 0;
  std::vector<int64_t> stop_token_ids;  // a sampled stop token ends the row (and is kept)
  int64_t num_samples = 1;              // K samples per prompt
  uint64_t seed = 0;
  // One seed per prompt (size = number of prompts), replacing `seed`: lets a server batch
  // prompts of requests with different seeds and still give each what it would get alone.
  std::vector<uint64_t> prompt_seeds;
  // false: recompute the whole sequence at every step (slow; the reference the cache is
  // tested against).
  bool use_kv_cache = true;
};

enum class FinishReason { kStop, kLength };

struct SampledSequence {
  int64_t prompt_index = 0;
  int64_t sample_index = 0;
  std::vector<int64_t> tokens;  // the response, without the prompt
  std::vector<float> logprobs;  // one per token
  FinishReason finish_reason = FinishReason::kLength;
};

// INVALID_ARGUMENT with a message for: no prompts, an empty prompt, a token id outside the
// vocabulary, prompt + max_new_tokens longer than max_position_embeddings, temperature < 0, not
// finite, or in (0, kMinTemperature), top_p outside (0, 1], top_k < 0, num_samples < 1,
// max_new_tokens < 1, min_new_tokens outside [0, max_new_tokens].
absl::Status ValidateSampling(const ModelConfig& config,
                              const std::vector<std::vector<int64_t>>& prompts,
                              const SamplingOptions& options);

// Samples options.num_samples continuations of every prompt; results are ordered by prompt,
// then sample. A thin loop over ContinuousBatch (every row joins at once), so it gives each
// sequence what the generator's batch gives it. A row that fails (non-finite logits) fails the
// call, naming its prompt and sample.
absl::StatusOr<std::vector<SampledSequence>> Sample(
    TransformerImpl& model, const std::vector<std::vector<int64_t>>& prompts,
    const SamplingOptions& options);

// One sampling step with tensor operations, for models off the CPU (on CPU, ContinuousBatch uses
// SampleRowsCpu from cpu_decode.h; both follow the same rules and tests compare them).
// `scaled` [B, V] float32 logits already divided by the temperature.
void SampleRowsTensor(const at::Tensor& scaled, const SamplingOptions& options,
                      const std::vector<double>& uniforms, std::vector<int64_t>* tokens,
                      std::vector<float>* logprobs);

// A 64-bit key of a prompt's token ids.
uint64_t PromptKey(const std::vector<int64_t>& prompt);
// The uniform number in [0, 1) used for (seed, prompt key, sample, step); exposed for tests.
double SamplingUniform(uint64_t seed, uint64_t prompt_key, int64_t sample, int64_t step);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_SAMPLER_H_
