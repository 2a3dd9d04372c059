#include "services/plumb-model/model_summary.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::model_tool {
namespace {

nlohmann::ordered_json IdOrNull(std::optional<int32_t> id) {
  if (!id.has_value()) return nullptr;
  return *id;
}

}  // namespace

nlohmann::ordered_json ConfigToJson(const model::ModelConfig& config) {
  return {
      {"vocab_size", config.vocab_size},
      {"hidden_size", config.hidden_size},
      {"intermediate_size", config.intermediate_size},
      {"num_hidden_layers", config.num_hidden_layers},
      {"num_attention_heads", config.num_attention_heads},
      {"num_key_value_heads", config.num_key_value_heads},
      {"head_dim", config.head_dim()},
      {"max_position_embeddings", config.max_position_embeddings},
      {"rms_norm_eps", config.rms_norm_eps},
      {"rope_theta", config.rope_theta},
      {"tie_word_embeddings", config.tie_word_embeddings},
      {"num_reward_outputs", config.num_reward_outputs},
  };
}

nlohmann::ordered_json TokenizerToJson(const tokenizer::Tokenizer& tokenizer) {
  return {
      {"description", tokenizer.description()}, {"vocab_size", tokenizer.vocab_size()},
      {"bos_id", IdOrNull(tokenizer.bos_id())}, {"eos_id", IdOrNull(tokenizer.eos_id())},
      {"pad_id", IdOrNull(tokenizer.pad_id())},
  };
}

std::string ConfigText(const model::ModelConfig& config, absl::string_view indent) {
  const std::vector<std::pair<const char*, std::string>> fields = {
      {"vocab_size", absl::StrCat(config.vocab_size)},
      {"hidden_size", absl::StrCat(config.hidden_size)},
      {"intermediate_size", absl::StrCat(config.intermediate_size)},
      {"num_hidden_layers", absl::StrCat(config.num_hidden_layers)},
      {"num_attention_heads", absl::StrCat(config.num_attention_heads)},
      {"num_key_value_heads", absl::StrCat(config.num_key_value_heads)},
      {"head_dim", absl::StrCat(config.head_dim())},
      {"max_position_embeddings", absl::StrCat(config.max_position_embeddings)},
      {"rms_norm_eps", absl::StrCat(config.rms_norm_eps)},
      {"rope_theta", absl::StrCat(config.rope_theta)},
      {"tie_word_embeddings", config.tie_word_embeddings ? "true" : "false"},
      {"num_reward_outputs", absl::StrCat(config.num_reward_outputs)},
  };
  std::string out;
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&out, indent, name, std::string(25 - std::string(name).size(), ' '), value,
                    "\n");
  }
  return out;
}

std::string TokenizerText(const tokenizer::Tokenizer& tokenizer) {
  std::vector<std::string> roles;
  const auto add = [&roles](const char* name, std::optional<int32_t> id) {
    if (id.has_value()) roles.push_back(absl::StrCat(name, " ", *id));
  };
  add("bos", tokenizer.bos_id());
  add("eos", tokenizer.eos_id());
  add("pad", tokenizer.pad_id());
  return absl::StrCat(tokenizer.description(), " (",
                      roles.empty() ? "no bos/eos/pad" : absl::StrJoin(roles, ", "), ")");
}

}  // namespace plumb::model_tool
