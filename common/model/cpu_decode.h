// The decode step on CPU, with fused kernels: one new token per row attends over the KV cache.
//
// At the model sizes Plumb trains on a CPU, a decode step is dominated by per-operator overhead,
// not arithmetic: the general Forward path issues ~40 LibTorch operators per layer, each a
// dispatch and an allocation. Here a layer is 4 BLAS calls (through LibTorch) and 4 plain loops:
// RMSNorm, RoPE + cache write, single-query attention, SwiGLU. Results equal the general path
// (tested in sampler_test: cached sampling equals recomputing the whole sequence).
//
// Shapes: B rows, H hidden, nh / nkv heads, hd head_dim, V vocabulary.
// Thread safety: called on the thread that owns the model and the cache.
#ifndef PLUMB_COMMON_MODEL_CPU_DECODE_H_
#define PLUMB_COMMON_MODEL_CPU_DECODE_H_

#include <cstdint>
#include <vector>

#include "common/model/transformer.h"

namespace plumb::model {

// True when DecodeStepCpu can serve `model` (CPU, float32 or bfloat16).
bool CanDecodeOnCpu(const TransformerImpl& model);

// Feeds `tokens` [B] int64 (one per row) at cache->length; returns the final hidden states [B, H]
// and advances the cache by one position. Every row is a real token.
at::Tensor DecodeStepCpu(TransformerImpl& model, const at::Tensor& tokens, KvCache* cache);

// Picks one token per row from float32 `logits` [B, V] already divided by the temperature:
// argmax when `greedy`, else inverse-CDF sampling with uniforms `u` after top-k / top-p
// filtering (ties broken by the lower token id). Writes the token and its log-prob under the
// unfiltered distribution.
void SampleRowsCpu(const at::Tensor& logits, bool greedy, int64_t top_k, double top_p,
                   const std::vector<double>& u, std::vector<int64_t>* tokens,
                   std::vector<float>* logprobs);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_CPU_DECODE_H_
