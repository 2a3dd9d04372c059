// Model folders in Hugging Face's layout: config.json plus model.safetensors, or shards with
// model.safetensors.index.json. Plumb's fused projections are split into HF's separate tensors on
// save and joined on load, so a Llama/Mistral checkpoint from the Hub loads here and what Plumb
// saves loads in transformers (LlamaForCausalLM).
//
// Beyond HF's names, Plumb stores its heads as "value_head.weight" [1, H] and, when the config
// has reward outputs, "score.weight" [K, H] (HF's name for a sequence-classification head).
// Both are optional on load (a fresh head keeps its initialisation).
//
// Thread safety: call on the thread that owns the model.
#ifndef PLUMB_COMMON_MODEL_HF_CHECKPOINT_H_
#define PLUMB_COMMON_MODEL_HF_CHECKPOINT_H_

#include <filesystem>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"

namespace plumb::model {

struct ModelPlacement {
  c10::ScalarType dtype = c10::ScalarType::Float;  // float32 or bfloat16
  c10::Device device = c10::Device(c10::DeviceType::CPU);
};

// HF-named tensors of the model (CPU, the model's dtype); LoRA adapters are merged into the
// exported weights (the model itself is left unchanged).
std::map<std::string, at::Tensor> ExportHfTensors(TransformerImpl& model);

// Copies HF-named tensors into the model. All-or-nothing: INVALID_ARGUMENT listing every missing,
// unexpected or wrongly shaped tensor (named), before any parameter changes. `source` names the
// checkpoint in messages.
absl::Status ImportHfTensors(TransformerImpl& model, std::map<std::string, at::Tensor> tensors,
                             const std::string& source);

// Writes config.json and the weights into `dir` (created if needed). Shards when the weights
// exceed `max_shard_bytes`.
absl::Status SaveHfModel(TransformerImpl& model, const std::filesystem::path& dir,
                         uint64_t max_shard_bytes = 5'000'000'000);

// Reads config.json and the weights of `dir`, builds the model and places it.
absl::StatusOr<Transformer> LoadHfModel(const std::filesystem::path& dir,
                                        const ModelPlacement& placement = {});

// Parses "float32" / "fp32" / "bfloat16" / "bf16" and "cpu" / "cuda" / "cuda:N".
absl::StatusOr<ModelPlacement> ParsePlacement(const std::string& dtype, const std::string& device);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_HF_CHECKPOINT_H_
