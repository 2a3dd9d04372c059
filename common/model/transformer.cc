#include "common/model/transformer.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/model/mixed_precision.h"

// LibTorch >= 2.1 has scaled_dot_product_attention with an explicit scale.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define PLUMB_HAS_FUSED_ATTENTION 1
#else
#define PLUMB_HAS_FUSED_ATTENTION 0
#endif

namespace plumb::model {
namespace {

using torch::indexing::Slice;

// Hugging Face's LlamaRMSNorm: normalise in float32, scale in the input dtype.
at::Tensor RmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor normed = x32 * at::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

// rotate_half: [x1, x2] -> [-x2, x1] along the last dimension.
at::Tensor RotateHalf(const at::Tensor& x) {
  const std::vector<at::Tensor> halves = x.chunk(2, -1);
  return at::cat({-halves[1], halves[0]}, -1);
}

// A large negative score for masked keys: finite, so that a query whose keys are all masked
// (a left-padding position) gets a uniform distribution instead of NaN.
constexpr double kMaskedScore = -1e30;

// Recomputes one decoder layer in backward instead of storing its activations. Parameter
// gradients accumulate through the nested backward call (reentrant, as PyTorch's checkpoint).
struct CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx,
                                                at::Tensor hidden, at::Tensor cos, at::Tensor sin,
                                                at::Tensor q_cos, at::Tensor q_sin,
                                                at::Tensor blocked, at::Tensor bias, int64_t layer,
                                                TransformerImpl* model) {
    ctx->save_for_backward({hidden, cos, sin, q_cos, q_sin, blocked, bias});
    ctx->saved_data["layer"] = layer;
    ctx->saved_data["model"] = reinterpret_cast<int64_t>(model);
    return {model->RunLayerWithoutCache(layer, hidden, {cos, sin, q_cos, q_sin, blocked, bias})};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto* model = reinterpret_cast<TransformerImpl*>(ctx->saved_data["model"].toInt());
    at::Tensor hidden = saved[0].detach().requires_grad_(true);
    {
      at::AutoGradMode enable(true);
      at::Tensor out =
          model->RunLayerWithoutCache(ctx->saved_data["layer"].toInt(), hidden,
                                      {saved[1], saved[2], saved[3], saved[4], saved[5], saved[6]});
      torch::autograd::backward({out}, {grads[0]});
    }
    // One entry per forward input: hidden, cos, sin, q_cos, q_sin, blocked, bias, layer, model.
    return {hidden.grad(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(),  at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

TransformerImpl::TransformerImpl(const ModelConfig& config) : config_(config) {
  const int64_t h = config.hidden_size;
  const int64_t hd = config.head_dim();
  const int64_t q_dim = config.num_attention_heads * hd;
  const int64_t kv_dim = config.num_key_value_heads * hd;
  const int64_t inter = config.intermediate_size;
  auto normal = [](std::vector<int64_t> shape) { return torch::randn(shape) * 0.02; };

  embed_tokens_ = register_parameter("embed_tokens", normal({config.vocab_size, h}));
  auto layer_modules = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    auto module = std::make_shared<torch::nn::Module>();
    Layer layer;
    layer.input_norm = module->register_parameter("input_norm", torch::ones({h}));
    layer.qkv = module->register_parameter("qkv", normal({q_dim + 2 * kv_dim, h}));
    layer.o = module->register_parameter("o", normal({h, q_dim}));
    layer.post_norm = module->register_parameter("post_norm", torch::ones({h}));
    layer.gate_up = module->register_parameter("gate_up", normal({2 * inter, h}));
    layer.down = module->register_parameter("down", normal({h, inter}));
    layer.module = module.get();
    layer_modules->push_back(module);
    layers_.push_back(std::move(layer));
  }
  norm_ = register_parameter("norm", torch::ones({h}));
  if (!config.tie_word_embeddings) {
    lm_head_ = register_parameter("lm_head", normal({config.vocab_size, h}));
  }
  value_head_ = register_parameter("value_head", normal({1, h}));
  if (config.num_reward_outputs > 0) {
    reward_head_ = register_parameter("reward_head", normal({config.num_reward_outputs, h}));
  }
  // inv_freq[i] = theta^(-2i / head_dim), as in HF's LlamaRotaryEmbedding.
  for (int64_t i = 0; i < hd; i += 2) {
    inv_freq_.push_back(static_cast<float>(
        1.0 / std::pow(config.rope_theta, static_cast<double>(i) / static_cast<double>(hd))));
  }
}

at::Tensor TransformerImpl::lm_head_weight() const {
  return config_.tie_word_embeddings ? embed_tokens_ : lm_head_;
}

at::Tensor TransformerImpl::EffectiveWeight(const Layer& layer, const std::string& projection,
                                            const at::Tensor& base) const {
  at::Tensor weight = base;
  for (const auto& [name, adapter] : layer.lora) {
    if (name != projection) continue;
    const at::Tensor delta = MixedMatmul(adapter.b, adapter.a) * adapter.scale;  // [rows, in]
    const int64_t rows = delta.size(0);
    const int64_t total = base.size(0);
    std::vector<at::Tensor> parts;
    if (adapter.row_offset > 0)
      parts.push_back(at::zeros({adapter.row_offset, delta.size(1)}, delta.options()));
    parts.push_back(delta);
    if (adapter.row_offset + rows < total) {
      parts.push_back(
          at::zeros({total - adapter.row_offset - rows, delta.size(1)}, delta.options()));
    }
    weight = weight + at::cat(parts, 0).to(base.scalar_type());
  }
  return weight;
}

at::Tensor TransformerImpl::Project(const Layer& layer, const std::string& projection,
                                    const at::Tensor& x, const at::Tensor& base) const {
  at::Tensor out = MixedMatmul(x, base.t());
  for (const auto& [name, adapter] : layer.lora) {
    if (name != projection) continue;
    const at::Tensor low = MixedMatmul(MixedMatmul(x, adapter.a.t()), adapter.b.t());  // [.., rows]
    // Added in place on the adapter's rows only (the product's backward does not need `out`).
    out.narrow(-1, adapter.row_offset, adapter.b.size(0))
        .add_((low * adapter.scale).to(out.scalar_type()));
  }
  return out;
}

void TransformerImpl::AddLoraAdapter(int64_t layer, const std::string& projection,
                                     LoraAdapter adapter) {
  const std::string prefix = absl::StrCat("lora_", projection, "_", adapter.row_offset, "_");
  torch::nn::Module* module = layers_[layer].module;
  adapter.a = module->register_parameter(prefix + "a", adapter.a);
  adapter.b = module->register_parameter(prefix + "b", adapter.b);
  layers_[layer].lora.emplace_back(projection, std::move(adapter));
}

KvCache TransformerImpl::NewCache(int64_t batch, int64_t capacity) const {
  KvCache cache;
  const auto options = embed_tokens_.options().requires_grad(false);
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    cache.keys.push_back(
        torch::zeros({batch, config_.num_key_value_heads, capacity, config_.head_dim()}, options));
    cache.values.push_back(torch::zeros_like(cache.keys.back()));
  }
  cache.key_valid =
      torch::zeros({batch, capacity}, torch::dtype(torch::kBool).device(embed_tokens_.device()));
  return cache;
}

at::Tensor TransformerImpl::LayerForward(int64_t index, const at::Tensor& hidden,
                                         const AttentionInputs& in, KvCache* cache,
                                         int64_t cache_start) {
  const Layer& layer = layers_[index];
  const int64_t batch = hidden.size(0);
  const int64_t steps = hidden.size(1);
  const int64_t heads = config_.num_attention_heads;
  const int64_t kv_heads = config_.num_key_value_heads;
  const int64_t group = heads / kv_heads;
  const int64_t hd = config_.head_dim();

  // Attention block.
  const at::Tensor normed = RmsNorm(hidden, layer.input_norm, config_.rms_norm_eps);
  const at::Tensor qkv = Project(layer, "qkv", normed, layer.qkv);
  // split (not three narrows): its backward writes the three gradients into one tensor once.
  const std::vector<at::Tensor> parts =
      qkv.split_with_sizes({heads * hd, kv_heads * hd, kv_heads * hd}, -1);
  at::Tensor q = parts[0].view({batch, steps, heads, hd}).transpose(1, 2);
  at::Tensor k = parts[1].view({batch, steps, kv_heads, hd}).transpose(1, 2);
  at::Tensor v = parts[2].view({batch, steps, kv_heads, hd}).transpose(1, 2);
  q = q * in.q_cos + RotateHalf(q) * in.q_sin;  // pre-scaled by 1/sqrt(head_dim)
  k = k * in.cos + RotateHalf(k) * in.sin;

  int64_t key_length = steps;
  if (cache != nullptr) {
    cache->keys[index].narrow(2, cache_start, steps).copy_(k);
    cache->values[index].narrow(2, cache_start, steps).copy_(v);
    key_length = cache_start + steps;
    k = cache->keys[index].narrow(2, 0, key_length);
    v = cache->values[index].narrow(2, 0, key_length);
  }
  at::Tensor attended;
#if PLUMB_HAS_FUSED_ATTENTION
  if (!hidden.device().is_cpu() && in.bias.defined() && in.bias.numel() > 0) {
    // LibTorch's fused attention (flash / memory-efficient kernels on GPUs). Queries are already
    // scaled, so scale = 1; the additive bias keeps fully masked (padding) rows finite.
    const at::Tensor keys = k.unsqueeze(2)
                                .expand({batch, kv_heads, group, key_length, hd})
                                .reshape({batch, heads, key_length, hd});
    const at::Tensor values = v.unsqueeze(2)
                                  .expand({batch, kv_heads, group, key_length, hd})
                                  .reshape({batch, heads, key_length, hd});
    attended = at::scaled_dot_product_attention(q, keys, values, in.bias.to(q.scalar_type()), 0.0,
                                                false, 1.0)
                   .transpose(1, 2)
                   .reshape({batch, steps, heads * hd});
  }
#endif
  if (!attended.defined()) {
    // Grouped-query attention without copying keys: query heads j*group .. j*group+group-1
    // share key/value head j (HF's repeat_kv order).
    const at::Tensor q5 = q.reshape({batch, kv_heads, group, steps, hd});
    const at::Tensor scores =
        MixedMatmul(q5, k.unsqueeze(2).transpose(-1, -2)).masked_fill_(in.blocked, kMaskedScore);
    const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    attended = MixedMatmul(probs, v.unsqueeze(2))  // [B, kv, g, T, hd]
                   .reshape({batch, heads, steps, hd})
                   .transpose(1, 2)
                   .reshape({batch, steps, heads * hd});
  }
  const at::Tensor after_attention = hidden + Project(layer, "o", attended, layer.o);

  // SwiGLU MLP block.
  const at::Tensor normed2 = RmsNorm(after_attention, layer.post_norm, config_.rms_norm_eps);
  const at::Tensor gate_up = Project(layer, "gate_up", normed2, layer.gate_up);
  const std::vector<at::Tensor> gate_and_up = gate_up.chunk(2, -1);
  const at::Tensor activated = at::silu(gate_and_up[0]) * gate_and_up[1];
  return after_attention + Project(layer, "down", activated, layer.down);
}

at::Tensor TransformerImpl::Forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                    const at::Tensor& position_ids, KvCache* cache,
                                    const at::Tensor& segment_ids) {
  // An internal invariant (packed rows are a training path, decoding never builds them).
  TORCH_CHECK(!segment_ids.defined() || cache == nullptr,
              "segment_ids are for full forwards (packed training rows), not cached decoding");
  const int64_t steps = input_ids.size(1);
  const at::Tensor mask = attention_mask.to(torch::kBool);
  const int64_t cache_start = cache != nullptr ? cache->length : 0;

  at::Tensor positions = position_ids;
  if (!positions.defined()) {
    // Real tokens are numbered 0, 1, ... in order; padding takes position 0.
    at::Tensor seen = mask.to(torch::kLong).cumsum(1);
    if (cache != nullptr && cache_start > 0) {
      seen = seen + cache->key_valid.narrow(1, 0, cache_start).sum(1, /*keepdim=*/true);
    }
    positions = (seen - 1).clamp_min(0);
  }
  at::Tensor key_valid;
  if (cache != nullptr) {
    cache->key_valid.narrow(1, cache_start, steps).copy_(mask);
    key_valid = cache->key_valid.narrow(1, 0, cache_start + steps);
  } else {
    key_valid = mask;
  }
  AttentionInputs in;
  {
    // Key j is hidden from new position i unless it is a real token and j <= cache_start + i.
    // Computed once per forward for every layer: [B, 1, 1, T, S].
    const int64_t keys = key_valid.size(1);
    const auto long_options = torch::dtype(torch::kLong).device(input_ids.device());
    const at::Tensor query_pos = torch::arange(cache_start, cache_start + steps, long_options);
    const at::Tensor causal =
        torch::arange(keys, long_options).unsqueeze(0) <= query_pos.unsqueeze(1);
    at::Tensor visible = causal.unsqueeze(0) & key_valid.unsqueeze(1);
    if (segment_ids.defined()) {
      visible = visible & (segment_ids.unsqueeze(2) == segment_ids.unsqueeze(1));
    }
    in.blocked = visible.logical_not().view({input_ids.size(0), 1, 1, steps, keys});
#if PLUMB_HAS_FUSED_ATTENTION
    in.bias = torch::zeros({input_ids.size(0), 1, steps, keys},
                           torch::dtype(torch::kFloat).device(input_ids.device()))
                  .masked_fill_(in.blocked.view({input_ids.size(0), 1, steps, keys}), kMaskedScore);
#endif
  }

  // Rotary tables for these positions: [B, 1, T, head_dim], cos/sin of cat(freqs, freqs).
  const at::Tensor freqs =
      positions.to(torch::kFloat).unsqueeze(-1) *
      torch::from_blob(inv_freq_.data(), {static_cast<int64_t>(inv_freq_.size())}, torch::kFloat)
          .to(positions.device());
  const at::Tensor angles = at::cat({freqs, freqs}, -1);
  const auto dtype = embed_tokens_.scalar_type();
  in.cos = angles.cos().to(dtype).unsqueeze(1);
  in.sin = angles.sin().to(dtype).unsqueeze(1);
  // Queries carry the attention scale 1/sqrt(head_dim), saving a pass over the scores.
  const double scale = 1.0 / std::sqrt(static_cast<double>(config_.head_dim()));
  in.q_cos = (angles.cos() * scale).to(dtype).unsqueeze(1);
  in.q_sin = (angles.sin() * scale).to(dtype).unsqueeze(1);

  at::Tensor hidden = at::embedding(embed_tokens_, input_ids);
  const bool checkpointing =
      gradient_checkpointing_ && cache == nullptr && is_training() && at::GradMode::is_enabled();
  if (checkpointing && !hidden.requires_grad()) {
    // A frozen embedding (LoRA): a checkpointed layer whose input needs no gradient would get no
    // backward at all, and the trainable weights inside it none either. The embedding still
    // gets none (the input is cut from it).
    hidden = hidden.detach().requires_grad_(true);
  }
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    if (checkpointing) {
      hidden = CheckpointedLayer::apply(hidden, in.cos, in.sin, in.q_cos, in.q_sin, in.blocked,
                                        in.bias.defined() ? in.bias : at::empty({0}), i, this)[0];
    } else {
      hidden = LayerForward(i, hidden, in, cache, cache_start);
    }
  }
  if (cache != nullptr) cache->length = cache_start + steps;
  return RmsNorm(hidden, norm_, config_.rms_norm_eps);
}

at::Tensor TransformerImpl::RunLayerWithoutCache(int64_t index, const at::Tensor& hidden,
                                                 const AttentionInputs& in) {
  return LayerForward(index, hidden, in, nullptr, 0);
}

at::Tensor TransformerImpl::Logits(const at::Tensor& hidden) {
  return MixedMatmul(hidden, lm_head_weight().t());
}

at::Tensor TransformerImpl::Values(const at::Tensor& hidden) {
  return MixedMatmul(hidden, value_head_.t()).squeeze(-1);
}

at::Tensor TransformerImpl::Rewards(const at::Tensor& hidden) {
  // An internal invariant: callers check num_reward_outputs before they ask for rewards.
  TORCH_CHECK(reward_head_.defined(), "this model has no reward head (num_reward_outputs = 0)");
  return MixedMatmul(hidden, reward_head_.t());
}

}  // namespace plumb::model
