#include "common/model/cpu_decode.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace plumb::model {
namespace {

// Rounds through the model's dtype, as the general path does between operators.
template <typename T>
inline float Round(float x) {
  return static_cast<float>(static_cast<T>(x));
}

// HF RMSNorm per row: weight * dtype(x * rsqrt(mean(x^2) + eps)).
template <typename T>
at::Tensor RmsNormRows(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const int64_t rows = x.size(0), width = x.size(1);
  at::Tensor out = at::empty_like(x);
  const T* in = x.data_ptr<T>();
  const T* w = weight.data_ptr<T>();
  T* o = out.data_ptr<T>();
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = in + r * width;
    float sum = 0;
    for (int64_t i = 0; i < width; ++i) sum += static_cast<float>(row[i]) * row[i];
    const float inv = 1.0f / std::sqrt(sum / width + static_cast<float>(eps));
    for (int64_t i = 0; i < width; ++i) {
      o[r * width + i] = static_cast<T>(static_cast<float>(w[i]) * Round<T>(row[i] * inv));
    }
  }
  return out;
}

template <typename T>
at::Tensor DecodeStepTyped(TransformerImpl& model, const at::Tensor& tokens, KvCache* cache) {
  const ModelConfig& c = model.config();
  const int64_t batch = tokens.size(0);
  const int64_t heads = c.num_attention_heads, kv_heads = c.num_key_value_heads;
  const int64_t group = heads / kv_heads, hd = c.head_dim(), half = hd / 2;
  const int64_t position_slot = cache->length;
  const int64_t keys = position_slot + 1;
  const int64_t capacity = cache->capacity();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  // Each row's position is the number of real tokens before it; the new key is real.
  bool* valid = cache->key_valid.data_ptr<bool>();
  std::vector<float> cos_table(batch * half), sin_table(batch * half);
  const float* inv_freq = model.inv_freq().data();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t position = 0;
    for (int64_t s = 0; s < position_slot; ++s) position += valid[b * capacity + s];
    valid[b * capacity + position_slot] = true;
    for (int64_t i = 0; i < half; ++i) {
      const float angle = static_cast<float>(position) * inv_freq[i];
      cos_table[b * half + i] = std::cos(angle);
      sin_table[b * half + i] = std::sin(angle);
    }
  }

  at::Tensor x = at::embedding(model.embed_tokens(), tokens);  // [B, H]
  std::vector<float> q(batch * heads * hd);
  std::vector<float> scores(keys);
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    TransformerImpl::Layer& layer = model.layers()[l];
    const at::Tensor normed = RmsNormRows<T>(x, layer.input_norm, c.rms_norm_eps);
    const at::Tensor qkv = at::mm(normed, model.EffectiveWeight(layer, "qkv", layer.qkv).t());
    const T* qkv_data = qkv.data_ptr<T>();
    const int64_t qkv_width = qkv.size(1);
    T* key_cache = cache->keys[l].data_ptr<T>();
    T* value_cache = cache->values[l].data_ptr<T>();
    // RoPE (rotate-half) on queries (scaled) and keys; keys and values go into the cache.
    for (int64_t b = 0; b < batch; ++b) {
      const float* cs = &cos_table[b * half];
      const float* sn = &sin_table[b * half];
      const T* row = qkv_data + b * qkv_width;
      for (int64_t h = 0; h < heads; ++h) {
        const T* in = row + h * hd;
        float* out = &q[(b * heads + h) * hd];
        for (int64_t i = 0; i < half; ++i) {
          const float a = in[i], z = in[i + half];
          out[i] = (a * cs[i] - z * sn[i]) * scale;
          out[i + half] = (z * cs[i] + a * sn[i]) * scale;
        }
      }
      for (int64_t h = 0; h < kv_heads; ++h) {
        const T* k_in = row + (heads + h) * hd;
        const T* v_in = row + (heads + kv_heads + h) * hd;
        T* k_out = key_cache + ((b * kv_heads + h) * capacity + position_slot) * hd;
        T* v_out = value_cache + ((b * kv_heads + h) * capacity + position_slot) * hd;
        for (int64_t i = 0; i < half; ++i) {
          const float a = k_in[i], z = k_in[i + half];
          k_out[i] = static_cast<T>(a * cs[i] - z * sn[i]);
          k_out[i + half] = static_cast<T>(z * cs[i] + a * sn[i]);
        }
        for (int64_t i = 0; i < hd; ++i) v_out[i] = v_in[i];
      }
    }
    // One query per row and head over the real keys of its row.
    at::Tensor attended = at::empty({batch, heads * hd}, x.options());
    T* att = attended.data_ptr<T>();
    auto attend = [&](int64_t begin, int64_t end) {
      std::vector<float> local_scores(keys);
      std::vector<float> acc(hd);
      for (int64_t task = begin; task < end; ++task) {
        const int64_t b = task / heads, h = task % heads, kvh = h / group;
        const float* query = &q[(b * heads + h) * hd];
        const T* k_base = key_cache + (b * kv_heads + kvh) * capacity * hd;
        const T* v_base = value_cache + (b * kv_heads + kvh) * capacity * hd;
        float max_score = -std::numeric_limits<float>::infinity();
        for (int64_t s = 0; s < keys; ++s) {
          if (!valid[b * capacity + s]) continue;
          const T* key = k_base + s * hd;
          float dot = 0;
          for (int64_t i = 0; i < hd; ++i) dot += query[i] * static_cast<float>(key[i]);
          local_scores[s] = dot;
          max_score = std::max(max_score, dot);
        }
        float total = 0;
        for (int64_t s = 0; s < keys; ++s) {
          if (!valid[b * capacity + s]) continue;
          local_scores[s] = std::exp(local_scores[s] - max_score);
          total += local_scores[s];
        }
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int64_t s = 0; s < keys; ++s) {
          if (!valid[b * capacity + s]) continue;
          const float p = Round<T>(local_scores[s] / total);
          const T* value = v_base + s * hd;
          for (int64_t i = 0; i < hd; ++i) acc[i] += p * static_cast<float>(value[i]);
        }
        T* out = att + b * heads * hd + h * hd;
        for (int64_t i = 0; i < hd; ++i) out[i] = static_cast<T>(acc[i]);
      }
    };
    const int64_t tasks = batch * heads;
    if (tasks * keys * hd >= (int64_t{1} << 17)) {
      at::parallel_for(0, tasks, 1, attend);
    } else {
      attend(0, tasks);
    }
    x = at::addmm(x, attended, model.EffectiveWeight(layer, "o", layer.o).t());
    const at::Tensor normed2 = RmsNormRows<T>(x, layer.post_norm, c.rms_norm_eps);
    const at::Tensor gate_up =
        at::mm(normed2, model.EffectiveWeight(layer, "gate_up", layer.gate_up).t());
    const int64_t inter = c.intermediate_size;
    at::Tensor activated = at::empty({batch, inter}, x.options());
    const T* gu = gate_up.data_ptr<T>();
    T* act = activated.data_ptr<T>();
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t i = 0; i < inter; ++i) {
        const float g = gu[b * 2 * inter + i];
        const float silu = Round<T>(g / (1.0f + std::exp(-g)));
        act[b * inter + i] =
            static_cast<T>(silu * static_cast<float>(gu[b * 2 * inter + inter + i]));
      }
    }
    x = at::addmm(x, activated, model.EffectiveWeight(layer, "down", layer.down).t());
  }
  cache->length = keys;
  return RmsNormRows<T>(x, model.final_norm(), c.rms_norm_eps);
}

}  // namespace

bool CanDecodeOnCpu(const TransformerImpl& model) {
  const at::Tensor& embed = const_cast<TransformerImpl&>(model).embed_tokens();
  return embed.device().is_cpu() &&
         (embed.scalar_type() == at::kFloat || embed.scalar_type() == at::kBFloat16);
}

at::Tensor DecodeStepCpu(TransformerImpl& model, const at::Tensor& tokens, KvCache* cache) {
  torch::NoGradGuard no_grad;
  if (model.embed_tokens().scalar_type() == at::kBFloat16) {
    return DecodeStepTyped<c10::BFloat16>(model, tokens, cache);
  }
  return DecodeStepTyped<float>(model, tokens, cache);
}

void SampleRowsCpu(const at::Tensor& logits, bool greedy, int64_t top_k, double top_p,
                   const std::vector<double>& u, std::vector<int64_t>* tokens,
                   std::vector<float>* logprobs) {
  const at::Tensor values = logits.contiguous();
  const int64_t rows = values.size(0), vocab = values.size(1);
  const float* data = values.data_ptr<float>();
  tokens->resize(rows);
  logprobs->resize(rows);
  std::vector<float> kept(vocab);
  std::vector<float> scratch;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = data + r * vocab;
    const int64_t argmax = std::max_element(row, row + vocab) - row;
    const float max_value = row[argmax];
    double total = 0;
    for (int64_t i = 0; i < vocab; ++i) total += std::exp(static_cast<double>(row[i] - max_value));
    const double log_total = std::log(total) + max_value;
    int64_t token = argmax;
    if (!greedy) {
      // Filtering keeps every token at or above a threshold, so ties at the edge stay in.
      float threshold = -std::numeric_limits<float>::infinity();
      if (top_k > 0 && top_k < vocab) {
        scratch.assign(row, row + vocab);
        std::nth_element(scratch.begin(), scratch.begin() + (top_k - 1), scratch.end(),
                         std::greater<float>());
        threshold = scratch[top_k - 1];
      }
      if (top_p < 1.0) {
        scratch.clear();
        for (int64_t i = 0; i < vocab; ++i) {
          if (row[i] >= threshold) scratch.push_back(row[i]);
        }
        std::sort(scratch.begin(), scratch.end(), std::greater<float>());
        double kept_total = 0;
        for (float v : scratch) kept_total += std::exp(static_cast<double>(v - max_value));
        double before = 0;
        for (float v : scratch) {
          // The smallest prefix whose probability reaches top_p ends at v.
          threshold = v;
          before += std::exp(static_cast<double>(v - max_value)) / kept_total;
          if (before >= top_p) break;
        }
      }
      double kept_total = 0;
      for (int64_t i = 0; i < vocab; ++i) {
        kept[i] = row[i] >= threshold ? static_cast<float>(std::exp(row[i] - max_value)) : 0.f;
        kept_total += kept[i];
      }
      const double target = u[r] * kept_total;
      double cumulative = 0;
      token = -1;
      for (int64_t i = 0; i < vocab; ++i) {
        cumulative += kept[i];
        if (kept[i] > 0) token = i;  // the last kept token guards against rounding at the end
        if (cumulative > target && kept[i] > 0) break;
      }
    }
    (*tokens)[r] = token;
    (*logprobs)[r] = static_cast<float>(row[token] - log_total);
  }
}

}  // namespace plumb::model
