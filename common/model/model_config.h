// The hyperparameters of a Llama-family decoder (Llama, Mistral, Qwen2 without attention bias),
// named as in Hugging Face's config.json. No LibTorch here: the checkpoint reader, tools and
// services share this struct.
//
// Thread safety: a plain value type.
#ifndef PLUMB_COMMON_MODEL_MODEL_CONFIG_H_
#define PLUMB_COMMON_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace plumb::model {

enum class RewardReadout { kLastToken, kResponseMean };

// "last_token" | "response_mean", the names config.json and configs use.
const char* RewardReadoutName(RewardReadout readout);
bool ParseRewardReadout(absl::string_view name, RewardReadout* readout);

struct ModelConfig {
  int64_t vocab_size = 256 + 3;
  int64_t hidden_size = 128;
  int64_t intermediate_size = 352;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 4;  // < num_attention_heads: grouped-query attention
  int64_t max_position_embeddings = 512;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  // Outputs of the reward head (one per objective, e.g. helpfulness and safety); 0 = no head.
  int64_t num_reward_outputs = 0;
  // What the reward head reads (config.json "plumb_reward_readout"): the final hidden state at
  // the last token of prompt + response (the usual reward model), or the mean of the final
  // hidden states over the response's tokens (a sum of per-token scores over the length: a reward
  // that generalises from few comparisons when the judge scores words wherever they occur).
  RewardReadout reward_readout = RewardReadout::kLastToken;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }

  // What weight streams and ModelInfo call this network: "llama", or for a reward model that
  // reads the response mean "llama/reward_readout=response_mean", so that weights trained under
  // one readout never land in a model scoring with the other.
  std::string Architecture() const;

  // INVALID_ARGUMENT naming the field when a value is out of range or inconsistent (e.g.
  // num_attention_heads not a multiple of num_key_value_heads, odd head_dim for RoPE).
  absl::Status Validate() const;

  // Number of parameters of the network (embeddings, layers, final norm, LM head when untied;
  // reward head not included).
  int64_t ParameterCount() const;
};

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_MODEL_CONFIG_H_
