#include "common/model/hf_checkpoint.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/hf_llama_parameters.h"
#include "common/checkpoint/parameter_check.h"
#include "common/checkpoint/safetensors_writer.h"
#include "common/checkpoint/sharded_checkpoint.h"
#include "common/status/status_macros.h"

namespace plumb::model {
namespace {

constexpr char kValueHead[] = "value_head.weight";
constexpr char kRewardHead[] = "score.weight";

std::string LayerName(int64_t layer, const char* suffix) {
  return absl::StrCat("model.layers.", layer, ".", suffix);
}

// The effective weight of a fused projection (LoRA merged), detached.
at::Tensor Effective(TransformerImpl& model, const TransformerImpl::Layer& layer,
                     const std::string& projection, const at::Tensor& base) {
  return model.EffectiveWeight(layer, projection, base).detach();
}

}  // namespace

std::map<std::string, at::Tensor> ExportHfTensors(TransformerImpl& model) {
  torch::NoGradGuard no_grad;
  const ModelConfig& c = model.config();
  const int64_t q = c.num_attention_heads * c.head_dim();
  const int64_t kv = c.num_key_value_heads * c.head_dim();
  const int64_t inter = c.intermediate_size;
  std::map<std::string, at::Tensor> out;
  auto put = [&out](const std::string& name, const at::Tensor& t) {
    out[name] = t.detach().to(torch::kCPU).contiguous();
  };
  put("model.embed_tokens.weight", model.embed_tokens());
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    const TransformerImpl::Layer& layer = model.layers()[l];
    const at::Tensor qkv = Effective(model, layer, "qkv", layer.qkv);
    const at::Tensor gate_up = Effective(model, layer, "gate_up", layer.gate_up);
    put(LayerName(l, "input_layernorm.weight"), layer.input_norm);
    put(LayerName(l, "self_attn.q_proj.weight"), qkv.narrow(0, 0, q));
    put(LayerName(l, "self_attn.k_proj.weight"), qkv.narrow(0, q, kv));
    put(LayerName(l, "self_attn.v_proj.weight"), qkv.narrow(0, q + kv, kv));
    put(LayerName(l, "self_attn.o_proj.weight"), Effective(model, layer, "o", layer.o));
    put(LayerName(l, "post_attention_layernorm.weight"), layer.post_norm);
    put(LayerName(l, "mlp.gate_proj.weight"), gate_up.narrow(0, 0, inter));
    put(LayerName(l, "mlp.up_proj.weight"), gate_up.narrow(0, inter, inter));
    put(LayerName(l, "mlp.down_proj.weight"), Effective(model, layer, "down", layer.down));
  }
  put("model.norm.weight", model.final_norm());
  if (!c.tie_word_embeddings) put("lm_head.weight", model.lm_head());
  put(kValueHead, model.value_head());
  if (c.num_reward_outputs > 0) put(kRewardHead, model.reward_head());
  return out;
}

absl::Status ImportHfTensors(TransformerImpl& model, std::map<std::string, at::Tensor> tensors,
                             const std::string& source) {
  const ModelConfig& c = model.config();
  const auto dtype = model.embed_tokens().scalar_type();
  checkpoint::ExpectedParameters expected = checkpoint::HfLlamaParameters(c, dtype);
  // Optional heads: checked when present, kept at their initialisation when absent.
  std::map<std::string, std::vector<int64_t>> optional = {{kValueHead, {1, c.hidden_size}}};
  if (c.num_reward_outputs > 0) {
    optional[kRewardHead] = {c.num_reward_outputs, c.hidden_size};
  }
  for (const auto& [name, shape] : optional) {
    if (tensors.count(name) > 0) expected[name] = checkpoint::ExpectedParameter{shape, dtype};
  }
  checkpoint::ParameterCheckOptions check;
  check.checkpoint = source;
  check.ignored_suffixes = {"rotary_emb.inv_freq"};
  ASSIGN_OR_RETURN(checkpoint::TensorMap checked,
                   checkpoint::CheckAndConvertParameters(std::move(tensors), expected, check));

  torch::NoGradGuard no_grad;
  auto assign = [&checked](at::Tensor& target, const std::string& name) {
    target.copy_(checked.at(name));
  };
  const int64_t q = c.num_attention_heads * c.head_dim();
  const int64_t kv = c.num_key_value_heads * c.head_dim();
  const int64_t inter = c.intermediate_size;
  assign(model.embed_tokens(), "model.embed_tokens.weight");
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    TransformerImpl::Layer& layer = model.layers()[l];
    assign(layer.input_norm, LayerName(l, "input_layernorm.weight"));
    layer.qkv.narrow(0, 0, q).copy_(checked.at(LayerName(l, "self_attn.q_proj.weight")));
    layer.qkv.narrow(0, q, kv).copy_(checked.at(LayerName(l, "self_attn.k_proj.weight")));
    layer.qkv.narrow(0, q + kv, kv).copy_(checked.at(LayerName(l, "self_attn.v_proj.weight")));
    assign(layer.o, LayerName(l, "self_attn.o_proj.weight"));
    assign(layer.post_norm, LayerName(l, "post_attention_layernorm.weight"));
    layer.gate_up.narrow(0, 0, inter).copy_(checked.at(LayerName(l, "mlp.gate_proj.weight")));
    layer.gate_up.narrow(0, inter, inter).copy_(checked.at(LayerName(l, "mlp.up_proj.weight")));
    assign(layer.down, LayerName(l, "mlp.down_proj.weight"));
  }
  assign(model.final_norm(), "model.norm.weight");
  if (!c.tie_word_embeddings) assign(model.lm_head(), "lm_head.weight");
  if (checked.count(kValueHead) > 0) assign(model.value_head(), kValueHead);
  if (checked.count(kRewardHead) > 0) assign(model.reward_head(), kRewardHead);
  return absl::OkStatus();
}

absl::Status SaveHfModel(TransformerImpl& model, const std::filesystem::path& dir,
                         uint64_t max_shard_bytes) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create model folder ", dir.string(), ": ", error.message()));
  }
  RETURN_IF_ERROR(checkpoint::WriteHfConfig(dir / "config.json", model.config()));
  const std::map<std::string, at::Tensor> tensors = ExportHfTensors(model);
  uint64_t total = 0;
  for (const auto& [name, t] : tensors) total += checkpoint::TensorBytes(t);
  // A folder holds one layout: drop what an earlier save of the other layout left behind (an
  // index would win over a new single file when loading).
  const bool single = total <= max_shard_bytes;
  std::filesystem::remove(dir / (single ? checkpoint::kSafetensorsIndexFileName
                                        : checkpoint::kSingleSafetensorsFileName),
                          error);
  if (single) {
    return checkpoint::WriteSafetensors(dir / checkpoint::kSingleSafetensorsFileName, tensors,
                                        {{"format", "pt"}});
  }
  checkpoint::ShardedWriteOptions options;
  options.max_shard_bytes = max_shard_bytes;
  return checkpoint::WriteShardedSafetensors(dir, tensors, options).status();
}

absl::StatusOr<Transformer> LoadHfModel(const std::filesystem::path& dir,
                                        const ModelPlacement& placement) {
  ASSIGN_OR_RETURN(ModelConfig config, checkpoint::ReadHfConfig(dir / "config.json"));
  ASSIGN_OR_RETURN(checkpoint::TensorMap tensors, checkpoint::ReadSafetensorsCheckpoint(dir));
  Transformer model(config);
  model->to(placement.dtype);
  RETURN_IF_ERROR(ImportHfTensors(*model, std::move(tensors), dir.string()));
  model->to(placement.device);
  model->eval();
  return model;
}

absl::StatusOr<ModelPlacement> ParsePlacement(const std::string& dtype, const std::string& device) {
  ModelPlacement placement;
  if (dtype == "float32" || dtype == "fp32") {
    placement.dtype = torch::kFloat;
  } else if (dtype == "bfloat16" || dtype == "bf16") {
    placement.dtype = torch::kBFloat16;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("dtype '", dtype, "' is not supported; expected float32 or bfloat16"));
  }
  // A check of the caller's string, not a model boundary: c10::Device reports a bad one only by
  // throwing.
  try {
    placement.device = c10::Device(device);
  } catch (const c10::Error&) {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", device, "' is not valid; expected cpu, cuda or cuda:N"));
  }
  if (placement.device.is_cuda() && !torch::cuda::is_available()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "device '", device, "' requested, but this LibTorch build has no usable CUDA device"));
  }
  return placement;
}

}  // namespace plumb::model
