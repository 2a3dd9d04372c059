// The parameter names and shapes of a Hugging Face LlamaForCausalLM checkpoint for a ModelConfig
// (also Mistral, which shares the layout), to check a checkpoint with CheckAndConvertParameters:
//   model.embed_tokens.weight                        [vocab, hidden]
//   model.layers.N.input_layernorm.weight            [hidden]
//   model.layers.N.self_attn.q_proj.weight           [heads*head_dim, hidden]
//   model.layers.N.self_attn.o_proj.weight           [hidden, heads*head_dim]
//   model.layers.N.self_attn.{k,v}_proj.weight       [kv_heads*head_dim, hidden]
//   model.layers.N.post_attention_layernorm.weight   [hidden]
//   model.layers.N.mlp.{gate,up}_proj.weight         [intermediate, hidden]
//   model.layers.N.mlp.down_proj.weight              [hidden, intermediate]
//   model.norm.weight                                [hidden]
//   lm_head.weight                                   [vocab, hidden]  (absent when tied)
// Plumb's reward head is not included: its owner adds its entry.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_HF_LLAMA_PARAMETERS_H_
#define PLUMB_COMMON_CHECKPOINT_HF_LLAMA_PARAMETERS_H_

#include <c10/core/ScalarType.h>

#include "common/checkpoint/parameter_check.h"
#include "common/model/model_config.h"

namespace plumb::checkpoint {

ExpectedParameters HfLlamaParameters(const model::ModelConfig& config, c10::ScalarType dtype);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_HF_LLAMA_PARAMETERS_H_
