#include "common/checkpoint/hf_llama_parameters.h"

#include "absl/strings/str_cat.h"

namespace plumb::checkpoint {

ExpectedParameters HfLlamaParameters(const model::ModelConfig& config, c10::ScalarType dtype) {
  const int64_t hidden = config.hidden_size;
  const int64_t q_dim = config.num_attention_heads * config.head_dim();
  const int64_t kv_dim = config.num_key_value_heads * config.head_dim();
  const int64_t mlp = config.intermediate_size;
  ExpectedParameters expected;
  const auto add = [&](std::string name, std::vector<int64_t> shape) {
    expected.emplace(std::move(name), ExpectedParameter{std::move(shape), dtype});
  };
  add("model.embed_tokens.weight", {config.vocab_size, hidden});
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const std::string prefix = absl::StrCat("model.layers.", layer, ".");
    add(prefix + "input_layernorm.weight", {hidden});
    add(prefix + "self_attn.q_proj.weight", {q_dim, hidden});
    add(prefix + "self_attn.k_proj.weight", {kv_dim, hidden});
    add(prefix + "self_attn.v_proj.weight", {kv_dim, hidden});
    add(prefix + "self_attn.o_proj.weight", {hidden, q_dim});
    add(prefix + "post_attention_layernorm.weight", {hidden});
    add(prefix + "mlp.gate_proj.weight", {mlp, hidden});
    add(prefix + "mlp.up_proj.weight", {mlp, hidden});
    add(prefix + "mlp.down_proj.weight", {hidden, mlp});
  }
  add("model.norm.weight", {hidden});
  if (!config.tie_word_embeddings) add("lm_head.weight", {config.vocab_size, hidden});
  return expected;
}

}  // namespace plumb::checkpoint
