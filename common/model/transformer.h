// A decoder-only transformer with the Llama family's semantics (Llama, Mistral; Qwen2 without
// attention bias): token embedding, RMSNorm, rotary position embeddings in Hugging Face's
// rotate-half convention, grouped-query attention, SwiGLU MLP, optional tied embeddings, plus
// a scalar value head (PPO critic) and a reward head with one output per objective.
//
// For speed the q/k/v projections are stored fused as one [q_dim + 2*kv_dim, hidden] weight and
// gate/up as one [2*intermediate, hidden] weight; hf_weights.h maps them to and from Hugging
// Face's separate tensors.
//
// Shapes: B batch, T new positions, S key positions (cache + new), H hidden, V vocabulary.
// Thread safety: a model is used by one thread at a time (forward passes mutate no state, but
// LibTorch modules are not designed for concurrent use); the generator's runner thread owns it.
#ifndef PLUMB_COMMON_MODEL_TRANSFORMER_H_
#define PLUMB_COMMON_MODEL_TRANSFORMER_H_

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/model/model_config.h"

namespace plumb::model {

// Keys and values of every layer for up to `capacity` positions, preallocated once so decoding
// writes in place instead of concatenating. Rows may be left-padded: key_valid marks real keys.
struct KvCache {
  std::vector<at::Tensor> keys;    // per layer [B, kv_heads, capacity, head_dim]
  std::vector<at::Tensor> values;  // per layer, same shape
  at::Tensor key_valid;            // [B, capacity] bool
  int64_t length = 0;              // positions filled so far (the same for every row)
  int64_t capacity() const { return key_valid.defined() ? key_valid.size(1) : 0; }
};

class TransformerImpl : public torch::nn::Module {
 public:
  // `config` must be valid (ModelConfig::Validate). Parameters start as in HF's initialisation
  // (normal(0, 0.02) for matrices, ones for norms), drawn from LibTorch's global generator.
  explicit TransformerImpl(const ModelConfig& config);

  // Final hidden states [B, T, H] (after the last RMSNorm).
  //   input_ids      [B, T] int64
  //   attention_mask [B, T] (1 = real token, 0 = padding); with a cache, the mask of the new
  //                  positions only (earlier ones are remembered in cache->key_valid)
  //   position_ids   [B, T] int64, or undefined: derived from the mask (cumsum - 1), which makes
  //                  left and right padding both correct
  //   cache          nullptr for a full (training) forward; else keys/values of the new
  //                  positions are written at cache->length and cache->length advances by T.
  //   segment_ids    [B, T] int64 or undefined; without a cache, a query sees only keys of its
  //                  own segment (packed rows: several documents per row, none seeing another;
  //                  pass position_ids restarting per segment too)
  at::Tensor Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                     const at::Tensor& position_ids = {}, KvCache* cache = nullptr,
                     const at::Tensor& segment_ids = {});

  // [..., H] -> [..., V] through the LM head (the embedding matrix when tied).
  at::Tensor Logits(const at::Tensor& hidden);
  // [..., H] -> [...] through the value head.
  at::Tensor Values(const at::Tensor& hidden);
  // [..., H] -> [..., num_reward_outputs]; FAILED to call without a reward head.
  at::Tensor Rewards(const at::Tensor& hidden);

  // An empty cache for `batch` rows and `capacity` positions, in the model's dtype and device.
  KvCache NewCache(int64_t batch, int64_t capacity) const;

  // Recompute each layer in backward instead of keeping its activations (training only).
  void set_gradient_checkpointing(bool enabled) { gradient_checkpointing_ = enabled; }

  const ModelConfig& config() const { return config_; }

  // Parameters by internal name: "embed_tokens", "layers.N.{input_norm, qkv, o, post_norm,
  // gate_up, down}", "norm", "lm_head" (untied only), "value_head", "reward_head"; LoRA adapters
  // "layers.N.lora_<projection>_<row_offset>_{a,b}".
  at::Tensor& embed_tokens() { return embed_tokens_; }
  at::Tensor lm_head_weight() const;

  // A low-rank update of one slice of a projection: W[rows] += scale * B @ A.
  struct LoraAdapter {
    int64_t row_offset = 0;  // first output row of the slice (e.g. k_proj inside qkv)
    at::Tensor a;            // [rank, in]
    at::Tensor b;            // [rows, rank]
    double scale = 1.0;      // alpha / rank
  };

  struct Layer {
    at::Tensor input_norm;  // [H]
    at::Tensor qkv;         // [(heads + 2 kv_heads) * head_dim, H]
    at::Tensor o;           // [H, heads * head_dim]
    at::Tensor post_norm;   // [H]
    at::Tensor gate_up;     // [2 I, H]
    at::Tensor down;        // [H, I]
    // Adapters by fused projection name ("qkv", "o", "gate_up", "down").
    std::vector<std::pair<std::string, LoraAdapter>> lora;
    torch::nn::Module* module = nullptr;  // owns the parameters above ("layers.N.<name>")
  };
  std::vector<Layer>& layers() { return layers_; }
  at::Tensor& final_norm() { return norm_; }
  at::Tensor& lm_head() { return lm_head_; }  // undefined when tied
  at::Tensor& value_head() { return value_head_; }
  // Rotary frequencies theta^(-2i / head_dim), i < head_dim / 2, always float32 (kept off the
  // module so that converting the model to bfloat16 does not round them).
  const std::vector<float>& inv_freq() const { return inv_freq_; }
  at::Tensor& reward_head() { return reward_head_; }

  // The weight a projection uses in forward: the base plus its LoRA updates, if any.
  at::Tensor EffectiveWeight(const Layer& layer, const std::string& projection,
                             const at::Tensor& base) const;
  // x W^T for a projection, its LoRA updates applied as x A^T B^T (scaled) on the adapter's rows
  // of the output: the same function as EffectiveWeight's, without materialising B A or a full
  // weight gradient in training.
  at::Tensor Project(const Layer& layer, const std::string& projection, const at::Tensor& x,
                     const at::Tensor& base) const;

  // What every layer's attention needs, computed once per forward.
  struct AttentionInputs {
    at::Tensor cos, sin;      // rotary tables [B, 1, T, head_dim]
    at::Tensor q_cos, q_sin;  // the same, times 1/sqrt(head_dim), for queries
    at::Tensor blocked;       // [B, 1, 1, T, S] true where a key is hidden from a query
    at::Tensor bias;          // [B, 1, T, S] additive form, for the fused kernel (LibTorch >= 2.1)
  };

  // One decoder layer without a cache; used by gradient checkpointing to recompute in backward.
  at::Tensor RunLayerWithoutCache(int64_t index, const at::Tensor& hidden,
                                  const AttentionInputs& in);

  // Registers a LoRA adapter on layer `layer`.
  void AddLoraAdapter(int64_t layer, const std::string& projection, LoraAdapter adapter);

 private:
  at::Tensor LayerForward(int64_t index, const at::Tensor& hidden, const AttentionInputs& in,
                          KvCache* cache, int64_t cache_start);

  ModelConfig config_;
  bool gradient_checkpointing_ = false;
  at::Tensor embed_tokens_;  // [V, H]
  std::vector<Layer> layers_;
  at::Tensor norm_;         // [H]
  at::Tensor lm_head_;      // [V, H], undefined when tied
  at::Tensor value_head_;   // [1, H]
  at::Tensor reward_head_;  // [K, H], undefined when num_reward_outputs == 0
  std::vector<float> inv_freq_;
};
TORCH_MODULE(Transformer);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_TRANSFORMER_H_
