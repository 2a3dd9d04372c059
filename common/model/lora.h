// LoRA (Hu et al., 2021) on the Llama projections: W' = W + (alpha / rank) * B A with A [rank, in]
// drawn small and B [out, rank] zero, so training starts from the base model. Only adapter
// weights train; the base weights are frozen.
//
// Target modules use Hugging Face's names: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
// down_proj (the fused qkv / gate_up weights get one adapter per named slice).
//
// Thread safety: call on the thread that owns the model, before training starts.
#ifndef PLUMB_COMMON_MODEL_LORA_H_
#define PLUMB_COMMON_MODEL_LORA_H_

#include <vector>

#include "absl/status/status.h"
#include "common/model/lora_options.h"
#include "common/model/transformer.h"

namespace plumb::model {

// Adds adapters to every layer and freezes every other parameter (requires_grad = false).
// INVALID_ARGUMENT for an unknown target module or a rank outside [1, min(in, out)].
absl::Status ApplyLora(TransformerImpl& model, const LoraOptions& options);

// Folds every adapter into its base weight (W += scale * B A) and zeroes the adapter's B, so the
// model computes the same function with plain weights (what export writes).
void MergeLora(TransformerImpl& model);

// The parameters that train: the adapters after ApplyLora, else every parameter.
std::vector<at::Tensor> TrainableParameters(TransformerImpl& model);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_LORA_H_
