// Hugging Face `config.json` of Llama-family models <-> plumb::model::ModelConfig.
//
// Read: model_type "llama" or "mistral". Required keys: vocab_size, hidden_size,
// intermediate_size, num_hidden_layers, num_attention_heads, max_position_embeddings,
// rms_norm_eps. Defaults: num_key_value_heads = num_attention_heads, rope_theta = 10000,
// tie_word_embeddings = false, plumb_num_reward_outputs = 0 (a JSON null also means "default").
// Other keys are ignored, except those that would change the network Plumb builds, which are
// refused with UNIMPLEMENTED rather than silently loaded wrong: model_type "qwen2" (its q/k/v
// projections always have biases), attention_bias / mlp_bias true, hidden_act other than "silu",
// a non-null rope_scaling, head_dim != hidden_size / num_attention_heads, and a sliding_window
// shorter than max_position_embeddings (null or >= it is accepted: the window never applies).
// Missing keys, wrong JSON types, duplicate keys and values ModelConfig::Validate() rejects are
// INVALID_ARGUMENT; every message names the file and the key.
//
// Write: architectures ["LlamaForCausalLM"], model_type "llama", hidden_act "silu", the fields
// above, and num_reward_outputs under "plumb_num_reward_outputs" when > 0.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_CHECKPOINT_HF_CONFIG_H_
#define PLUMB_COMMON_CHECKPOINT_HF_CONFIG_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/model/model_config.h"

namespace plumb::checkpoint {

inline constexpr char kHfConfigFileName[] = "config.json";

// `source` names the file in error messages.
absl::StatusOr<model::ModelConfig> ParseHfConfig(absl::string_view json_text,
                                                 absl::string_view source);
absl::StatusOr<model::ModelConfig> ReadHfConfig(const std::filesystem::path& path);

// Pretty-printed config.json text; does not validate.
std::string FormatHfConfig(const model::ModelConfig& config);
// Validates `config`, then writes it atomically.
absl::Status WriteHfConfig(const std::filesystem::path& path, const model::ModelConfig& config);

}  // namespace plumb::checkpoint

#endif  // PLUMB_COMMON_CHECKPOINT_HF_CONFIG_H_
