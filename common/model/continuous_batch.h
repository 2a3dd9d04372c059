// Continuous batching: sequences decoded together one token per step, where new sequences join
// between steps and finished ones leave at once, so a server never waits for the longest
// sequence of a batch before starting the next request.
//
// Layout: one KV cache of `slots` rows and `capacity` positions shared by all sequences. A
// joining sequence is prefilled on its own, then its keys and values are copied into a free row,
// right-aligned to the cache's current length (the positions before it are marked invalid, and
// rotary positions count only valid keys, so a sequence computes exactly what it would alone).
// Each sequence keeps its own sampling options and random stream (SamplingUniform of its seed,
// prompt, sample index and step), so its tokens do not depend on what else is in the batch. When
// the batch empties, the cache starts over at position 0.
//
// This is the one decode loop: Sample (sampler.h) admits all its rows at once and steps until
// the batch is empty, so the sampling rule, stop handling and decode step live only here.
//
// Thread safety: one thread (a server's runner) owns a ContinuousBatch and its model.
#ifndef PLUMB_COMMON_MODEL_CONTINUOUS_BATCH_H_
#define PLUMB_COMMON_MODEL_CONTINUOUS_BATCH_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/model/sampler.h"
#include "common/model/transformer.h"

namespace plumb::model {

struct BatchSequence {
  std::vector<int64_t> prompt;
  // temperature, top_k, top_p, max_new_tokens, min_new_tokens, stop_token_ids and seed apply
  // (num_samples and prompt_seeds do not: one BatchSequence is one sample; nor does
  // use_kv_cache: the batch's constructor chooses).
  SamplingOptions options;
  int64_t sample_index = 0;  // the sample's index among its prompt's samples (random stream)
  uint64_t tag = 0;          // the caller's, returned with the result
  // Optional: asked after each sampled token, once min_new_tokens tokens are out, with every
  // token sampled so far; true ends the sequence at that token (FinishReason::kStop). The
  // generator's stop strings, so a sequence stops decoding where its text completes one.
  std::function<bool(const std::vector<int64_t>& tokens)> stop_after;
};

struct FinishedSequence {
  uint64_t tag = 0;
  SampledSequence result;  // prompt_index is 0; sample_index as given
  // Not OK when this sequence failed on its own (non-finite logits, nothing samplable); `result`
  // then holds the tokens sampled before the failure. Other sequences are unaffected.
  absl::Status error;
};

class ContinuousBatch {
 public:
  // `slots` sequences at most at once; `capacity` cache positions at most (at least the longest
  // prompt plus max_new_tokens of any sequence that will join). The cache starts empty and grows
  // (doubling, up to those limits) as sequences need it, so a server configured for many long
  // sequences does not hold memory for them while it serves a few short ones.
  // `use_kv_cache` false: no cache; every step recomputes each sequence from its prompt and
  // tokens (slow; the reference the cache is tested against).
  ContinuousBatch(TransformerImpl& model, int64_t slots, int64_t capacity,
                  bool use_kv_cache = true);
  ~ContinuousBatch();
  ContinuousBatch(const ContinuousBatch&) = delete;
  ContinuousBatch& operator=(const ContinuousBatch&) = delete;

  // Whether `count` more sequences with prompts of at most `prompt_length` tokens and at most
  // `max_new_tokens` new tokens fit now (free rows, and cache positions for them and for every
  // sequence already decoding).
  bool Fits(int64_t count, int64_t prompt_length, int64_t max_new_tokens) const;

  // Prefills the sequences (one forward pass) and adds them. INVALID_ARGUMENT for sequences
  // that do not pass ValidateSampling or do not Fit.
  absl::Status Add(const std::vector<BatchSequence>& sequences);

  // Samples one token for every sequence, then feeds the tokens of those that go on through one
  // decoding step. Returns the sequences that finished (stop token or max_new_tokens) and those
  // that failed alone (FinishedSequence::error); an error status fails the whole batch.
  absl::StatusOr<std::vector<FinishedSequence>> Step();

  // Removes the sequences whose tag matches (e.g. cancelled requests).
  void Drop(const std::function<bool(uint64_t tag)>& matches);

  // Decodes with another model of the same configuration, dtype and device (new weights) from
  // now on, keeping the cache's memory. Only while empty (else FAILED_PRECONDITION).
  absl::Status Rebind(TransformerImpl& model);

  int64_t active() const { return active_; }
  bool empty() const { return active_ == 0; }

 private:
  struct Row;
  KvCache View(int64_t rows);
  // Makes the cache at least `rows` x `positions` (keeping what it holds).
  void Grow(int64_t rows, int64_t positions);
  void Reset();
  // Picks the next token of each row in `order` (slots) from its float32 `logits` row.
  void SampleTokens(const std::vector<int64_t>& order, const at::Tensor& logits,
                    std::vector<int64_t>* tokens, std::vector<float>* logprobs) const;
  // Feeds next[slot] of the slots `going` (ascending, not empty) through one decoding step.
  absl::Status Advance(const std::vector<int64_t>& next, const std::vector<int64_t>& going);

  TransformerImpl* model_;
  const int64_t slots_;
  const int64_t capacity_;
  const bool use_kv_cache_;
  KvCache cache_;
  at::Tensor hidden_;      // [slots, H]: each row's state that predicts its next token
  std::vector<Row> rows_;  // one per slot
  int64_t active_ = 0;
};

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_CONTINUOUS_BATCH_H_
