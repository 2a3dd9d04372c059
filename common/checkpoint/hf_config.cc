#include "common/checkpoint/hf_config.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/file_io.h"
#include "common/json/parse_json.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::checkpoint {
namespace {

using json_input::EchoJson;
using json_input::JsonTypeName;
using nlohmann::json;

constexpr char kRewardOutputsKey[] = "plumb_num_reward_outputs";
constexpr char kRewardReadoutKey[] = "plumb_reward_readout";

// Typed access to the keys of one config object; errors name the file and the key.
class ConfigKeys {
 public:
  ConfigKeys(const json& root, absl::string_view source) : root_(root), source_(source) {}

  // nullptr when the key is absent or null.
  const json* Find(const char* key) const {
    auto it = root_.find(key);
    return it == root_.end() || it->is_null() ? nullptr : &*it;
  }

  absl::StatusOr<int64_t> Int(const char* key) const {
    const json* value = Find(key);
    if (value == nullptr) return Missing(key);
    if (!value->is_number_integer()) return WrongType(key, *value, "an integer");
    if (value->is_number_unsigned() &&
        value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": key \"", key, "\" is out of range: ", EchoJson(*value)));
    }
    return value->get<int64_t>();
  }
  absl::StatusOr<int64_t> Int(const char* key, int64_t default_value) const {
    return Find(key) == nullptr ? default_value : Int(key);
  }

  absl::StatusOr<double> Double(const char* key) const {
    const json* value = Find(key);
    if (value == nullptr) return Missing(key);
    if (!value->is_number()) return WrongType(key, *value, "a number");
    return value->get<double>();
  }
  absl::StatusOr<double> Double(const char* key, double default_value) const {
    return Find(key) == nullptr ? default_value : Double(key);
  }

  absl::StatusOr<bool> Bool(const char* key, bool default_value) const {
    const json* value = Find(key);
    if (value == nullptr) return default_value;
    if (!value->is_boolean()) return WrongType(key, *value, "true or false");
    return value->get<bool>();
  }

  absl::StatusOr<std::string> String(const char* key) const {
    const json* value = Find(key);
    if (value == nullptr) return Missing(key);
    if (!value->is_string()) return WrongType(key, *value, "a string");
    return value->get<std::string>();
  }

  absl::Status Unsupported(absl::string_view what) const {
    return absl::UnimplementedError(absl::StrCat(source_, ": ", what));
  }

 private:
  absl::Status Missing(const char* key) const {
    if (root_.contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_, ": required key \"", key, "\" is null"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": missing required key \"", key, "\""));
  }
  absl::Status WrongType(const char* key, const json& value, const char* expected) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": key \"", key, "\" is a ",
                                                   JsonTypeName(value), " (", EchoJson(value),
                                                   "), expected ", expected));
  }

  const json& root_;
  absl::string_view source_;
};

absl::Status CheckModelType(const ConfigKeys& keys) {
  ASSIGN_OR_RETURN(const std::string model_type, keys.String("model_type"));
  if (model_type == "llama" || model_type == "mistral") return absl::OkStatus();
  if (model_type == "qwen2") {
    return keys.Unsupported(
        "model_type \"qwen2\" is not supported yet: Qwen2 has biases on its q/k/v projections, "
        "which Plumb's Llama model lacks");
  }
  return keys.Unsupported(absl::StrCat("model_type ", Echo(model_type),
                                       " is not supported; supported: llama, mistral"));
}

// Options that would change the network: refuse them rather than load a different model.
absl::Status CheckNoUnsupportedFeatures(const ConfigKeys& keys, const model::ModelConfig& config) {
  for (const char* bias : {"attention_bias", "mlp_bias"}) {
    ASSIGN_OR_RETURN(const bool has_bias, keys.Bool(bias, false));
    if (has_bias) return keys.Unsupported(absl::StrCat("\"", bias, "\": true is not supported"));
  }
  if (keys.Find("hidden_act") != nullptr) {
    ASSIGN_OR_RETURN(const std::string act, keys.String("hidden_act"));
    if (act != "silu") {
      return keys.Unsupported(
          absl::StrCat("\"hidden_act\": ", Echo(act), " is not supported; only \"silu\""));
    }
  }
  if (const json* scaling = keys.Find("rope_scaling"); scaling != nullptr) {
    return keys.Unsupported(
        absl::StrCat("\"rope_scaling\" ", EchoJson(*scaling), " is not supported; only null"));
  }
  if (keys.Find("head_dim") != nullptr) {
    ASSIGN_OR_RETURN(const int64_t head_dim, keys.Int("head_dim"));
    if (config.num_attention_heads > 0 && head_dim != config.head_dim()) {
      return keys.Unsupported(absl::StrCat("\"head_dim\": ", head_dim,
                                           " differs from hidden_size / num_attention_heads = ",
                                           config.head_dim(), ", which Plumb's model assumes"));
    }
  }
  if (keys.Find("sliding_window") != nullptr) {
    ASSIGN_OR_RETURN(const int64_t window, keys.Int("sliding_window"));
    if (window < config.max_position_embeddings) {
      return keys.Unsupported(absl::StrCat(
          "\"sliding_window\": ", window, " is shorter than max_position_embeddings (",
          config.max_position_embeddings, ") and sliding-window attention is not implemented"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<model::ModelConfig> ParseHfConfig(absl::string_view json_text,
                                                 absl::string_view source) {
  ASSIGN_OR_RETURN(
      const json root,
      json_input::ParseJson(json_text, {.source = source,
                                        .error_code = absl::StatusCode::kInvalidArgument,
                                        .reject_duplicate_keys = true}));
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": is a JSON ", JsonTypeName(root), ", expected an object"));
  }
  const ConfigKeys keys(root, source);
  RETURN_IF_ERROR(CheckModelType(keys));

  model::ModelConfig config;
  ASSIGN_OR_RETURN(config.vocab_size, keys.Int("vocab_size"));
  ASSIGN_OR_RETURN(config.hidden_size, keys.Int("hidden_size"));
  ASSIGN_OR_RETURN(config.intermediate_size, keys.Int("intermediate_size"));
  ASSIGN_OR_RETURN(config.num_hidden_layers, keys.Int("num_hidden_layers"));
  ASSIGN_OR_RETURN(config.num_attention_heads, keys.Int("num_attention_heads"));
  ASSIGN_OR_RETURN(config.num_key_value_heads,
                   keys.Int("num_key_value_heads", config.num_attention_heads));
  ASSIGN_OR_RETURN(config.max_position_embeddings, keys.Int("max_position_embeddings"));
  ASSIGN_OR_RETURN(config.rms_norm_eps, keys.Double("rms_norm_eps"));
  ASSIGN_OR_RETURN(config.rope_theta, keys.Double("rope_theta", 10000.0));
  ASSIGN_OR_RETURN(config.tie_word_embeddings, keys.Bool("tie_word_embeddings", false));
  ASSIGN_OR_RETURN(config.num_reward_outputs, keys.Int(kRewardOutputsKey, 0));
  if (config.num_reward_outputs < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": key \"", kRewardOutputsKey, "\" must be >= 0, got ", config.num_reward_outputs));
  }
  if (keys.Find(kRewardReadoutKey) != nullptr) {
    ASSIGN_OR_RETURN(const std::string readout, keys.String(kRewardReadoutKey));
    if (!model::ParseRewardReadout(readout, &config.reward_readout)) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": key \"", kRewardReadoutKey, "\" is ", Echo(readout), "; expected \"",
          model::RewardReadoutName(model::RewardReadout::kLastToken), "\" or \"",
          model::RewardReadoutName(model::RewardReadout::kResponseMean), "\""));
    }
  }
  RETURN_IF_ERROR(Annotate(config.Validate(), source));
  RETURN_IF_ERROR(CheckNoUnsupportedFeatures(keys, config));
  return config;
}

absl::StatusOr<model::ModelConfig> ReadHfConfig(const std::filesystem::path& path) {
  ASSIGN_OR_RETURN(const std::string text, ReadFileToString(path, /*max_bytes=*/1 << 20));
  return ParseHfConfig(text, path.string());
}

std::string FormatHfConfig(const model::ModelConfig& config) {
  nlohmann::ordered_json out = {
      {"architectures", nlohmann::ordered_json::array({"LlamaForCausalLM"})},
      {"model_type", "llama"},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"vocab_size", config.vocab_size},
      {"hidden_size", config.hidden_size},
      {"intermediate_size", config.intermediate_size},
      {"num_hidden_layers", config.num_hidden_layers},
      {"num_attention_heads", config.num_attention_heads},
      {"num_key_value_heads", config.num_key_value_heads},
      {"max_position_embeddings", config.max_position_embeddings},
      {"rms_norm_eps", config.rms_norm_eps},
      {"rope_theta", config.rope_theta},
      {"tie_word_embeddings", config.tie_word_embeddings},
  };
  if (config.num_reward_outputs > 0) out[kRewardOutputsKey] = config.num_reward_outputs;
  // Written only when it is not the default, so configs without it read the same.
  if (config.num_reward_outputs > 0 && config.reward_readout != model::RewardReadout::kLastToken) {
    out[kRewardReadoutKey] = model::RewardReadoutName(config.reward_readout);
  }
  return out.dump(2) + "\n";
}

absl::Status WriteHfConfig(const std::filesystem::path& path, const model::ModelConfig& config) {
  RETURN_IF_ERROR(Annotate(config.Validate(), path.string()));
  return WriteStringToFileAtomically(path, FormatHfConfig(config));
}

}  // namespace plumb::checkpoint
