#include "common/model/lora.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"

namespace plumb::model {
namespace {

struct Target {
  const char* projection;  // fused weight name in TransformerImpl::Layer
  int64_t row_offset;
  int64_t rows;
  int64_t in;
};

absl::StatusOr<Target> FindTarget(const ModelConfig& c, const std::string& module) {
  const int64_t hd = c.head_dim();
  const int64_t q = c.num_attention_heads * hd;
  const int64_t kv = c.num_key_value_heads * hd;
  const int64_t h = c.hidden_size;
  const int64_t i = c.intermediate_size;
  if (module == "q_proj") return Target{"qkv", 0, q, h};
  if (module == "k_proj") return Target{"qkv", q, kv, h};
  if (module == "v_proj") return Target{"qkv", q + kv, kv, h};
  if (module == "o_proj") return Target{"o", 0, h, q};
  if (module == "gate_proj") return Target{"gate_up", 0, i, h};
  if (module == "up_proj") return Target{"gate_up", i, i, h};
  if (module == "down_proj") return Target{"down", 0, h, i};
  return absl::InvalidArgumentError(
      absl::StrCat("unknown LoRA target module '", module,
                   "'; expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj"));
}

at::Tensor& BaseWeight(TransformerImpl::Layer& layer, const std::string& projection) {
  if (projection == "qkv") return layer.qkv;
  if (projection == "o") return layer.o;
  if (projection == "gate_up") return layer.gate_up;
  return layer.down;
}

}  // namespace

absl::Status ApplyLora(TransformerImpl& model, const LoraOptions& options) {
  const ModelConfig& config = model.config();
  std::vector<Target> targets;
  for (const std::string& module : options.target_modules) {
    ASSIGN_OR_RETURN(Target target, FindTarget(config, module));
    if (options.rank < 1 || options.rank > std::min(target.rows, target.in)) {
      return absl::InvalidArgumentError(absl::StrCat("LoRA rank ", options.rank, " for ", module,
                                                     " must be in [1, ",
                                                     std::min(target.rows, target.in), "]"));
    }
    targets.push_back(target);
  }
  if (targets.empty()) return absl::InvalidArgumentError("LoRA needs at least one target module");
  torch::NoGradGuard no_grad;
  for (auto& parameter : model.parameters()) parameter.set_requires_grad(false);
  const auto options_like = model.embed_tokens().options().requires_grad(true);
  for (int64_t l = 0; l < config.num_hidden_layers; ++l) {
    for (const Target& target : targets) {
      TransformerImpl::LoraAdapter adapter;
      adapter.row_offset = target.row_offset;
      adapter.scale = options.alpha / static_cast<double>(options.rank);
      // A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming-uniform with a = sqrt(5), as PEFT), B = 0.
      const double bound = 1.0 / std::sqrt(static_cast<double>(target.in));
      adapter.a = (torch::rand({options.rank, target.in}, options_like) * 2 - 1) * bound;
      adapter.b = torch::zeros({target.rows, options.rank}, options_like);
      adapter.a.set_requires_grad(true);
      adapter.b.set_requires_grad(true);
      model.AddLoraAdapter(l, target.projection, std::move(adapter));
    }
  }
  return absl::OkStatus();
}

void MergeLora(TransformerImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& layer : model.layers()) {
    for (auto& [projection, adapter] : layer.lora) {
      at::Tensor& base = BaseWeight(layer, projection);
      const at::Tensor delta = at::matmul(adapter.b, adapter.a) * adapter.scale;
      base.narrow(0, adapter.row_offset, delta.size(0)).add_(delta.to(base.scalar_type()));
      adapter.b.zero_();
    }
  }
}

std::vector<at::Tensor> TrainableParameters(TransformerImpl& model) {
  std::vector<at::Tensor> trainable;
  for (const auto& parameter : model.parameters()) {
    if (parameter.requires_grad()) trainable.push_back(parameter);
  }
  return trainable;
}

}  // namespace plumb::model
