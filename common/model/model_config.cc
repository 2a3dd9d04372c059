#include "common/model/model_config.h"

#include "absl/strings/str_cat.h"

namespace plumb::model {
namespace {

absl::Status Positive(const char* field, int64_t value) {
  if (value > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("model config: ", field, " must be positive, got ", value));
}

}  // namespace

const char* RewardReadoutName(RewardReadout readout) {
  return readout == RewardReadout::kResponseMean ? "response_mean" : "last_token";
}

bool ParseRewardReadout(absl::string_view name, RewardReadout* readout) {
  for (RewardReadout r : {RewardReadout::kLastToken, RewardReadout::kResponseMean}) {
    if (name == RewardReadoutName(r)) {
      *readout = r;
      return true;
    }
  }
  return false;
}

std::string ModelConfig::Architecture() const {
  if (num_reward_outputs > 0 && reward_readout != RewardReadout::kLastToken) {
    return absl::StrCat("llama/reward_readout=", RewardReadoutName(reward_readout));
  }
  return "llama";
}

absl::Status ModelConfig::Validate() const {
  for (auto [field, value] : {std::pair<const char*, int64_t>{"vocab_size", vocab_size},
                              {"hidden_size", hidden_size},
                              {"intermediate_size", intermediate_size},
                              {"num_hidden_layers", num_hidden_layers},
                              {"num_attention_heads", num_attention_heads},
                              {"num_key_value_heads", num_key_value_heads},
                              {"max_position_embeddings", max_position_embeddings}}) {
    if (absl::Status status = Positive(field, value); !status.ok()) return status;
  }
  if (hidden_size % num_attention_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat("model config: hidden_size ", hidden_size,
                                                   " is not a multiple of num_attention_heads ",
                                                   num_attention_heads));
  }
  if (num_attention_heads % num_key_value_heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: num_attention_heads ", num_attention_heads,
                     " is not a multiple of num_key_value_heads ", num_key_value_heads));
  }
  if (head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: head_dim (hidden_size / num_attention_heads) = ", head_dim(),
                     " must be even for rotary embeddings"));
  }
  if (!(rms_norm_eps > 0) || !(rope_theta > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("model config: rms_norm_eps (", rms_norm_eps,
                                                   ") and rope_theta (", rope_theta,
                                                   ") must be positive"));
  }
  if (num_reward_outputs < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("model config: num_reward_outputs must be >= 0, got ", num_reward_outputs));
  }
  return absl::OkStatus();
}

int64_t ModelConfig::ParameterCount() const {
  const int64_t kv_dim = num_key_value_heads * head_dim();
  const int64_t attention = hidden_size * hidden_size * 2 + hidden_size * kv_dim * 2;
  const int64_t mlp = 3 * hidden_size * intermediate_size;
  const int64_t per_layer = attention + mlp + 2 * hidden_size;
  const int64_t embeddings = vocab_size * hidden_size;
  return embeddings + num_hidden_layers * per_layer + hidden_size +
         (tie_word_embeddings ? 0 : embeddings);
}

}  // namespace plumb::model
