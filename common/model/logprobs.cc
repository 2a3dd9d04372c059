#include "common/model/logprobs.h"

#include <torch/torch.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/model/sampler.h"

namespace plumb::model {

absl::Status ValidateSequences(const ModelConfig& config,
                               const std::vector<std::vector<int64_t>>& prompts,
                               const std::vector<std::vector<int64_t>>& responses) {
  if (prompts.empty()) return absl::InvalidArgumentError("empty batch");
  if (prompts.size() != responses.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(prompts.size(), " prompts but ", responses.size(), " responses"));
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty())
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " is empty"));
    const int64_t total = static_cast<int64_t>(prompts[i].size() + responses[i].size());
    if (total > config.max_position_embeddings) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", i, ": ", total,
                                                     " tokens exceed the context of ",
                                                     config.max_position_embeddings, " positions"));
    }
    for (const auto* part : {&prompts[i], &responses[i]}) {
      for (size_t t = 0; t < part->size(); ++t) {
        const int64_t id = (*part)[t];
        if (id < 0 || id >= config.vocab_size) {
          return absl::InvalidArgumentError(absl::StrCat(
              part == &prompts[i] ? "prompt " : "response ", i, ", position ", t, ": token id ", id,
              " is outside the vocabulary [0, ", config.vocab_size, ")"));
        }
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<ResponseScores> ScoreResponses(TransformerImpl& model,
                                              const std::vector<std::vector<int64_t>>& prompts,
                                              const std::vector<std::vector<int64_t>>& responses,
                                              double temperature, bool with_entropy) {
  if (absl::Status status = ValidateSequences(model.config(), prompts, responses); !status.ok()) {
    return status;
  }
  if (!(temperature >= kMinTemperature) || !std::isfinite(temperature)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "temperature must be a finite number >= ", kMinTemperature, ", got ", temperature));
  }
  const auto device = model.embed_tokens().device();
  const int64_t batch = static_cast<int64_t>(prompts.size());
  int64_t longest = 0;
  int64_t longest_response = 0;
  for (int64_t i = 0; i < batch; ++i) {
    longest = std::max<int64_t>(longest, prompts[i].size() + responses[i].size());
    longest_response = std::max<int64_t>(longest_response, responses[i].size());
  }
  // Right-padded prompt+response rows; `predictor[i][t]` is the position whose output predicts
  // response token t of row i.
  std::vector<int64_t> ids(batch * longest, 0), mask(batch * longest, 0);
  std::vector<int64_t> predictor(batch * longest_response, 0), targets(batch * longest_response, 0),
      last(batch, 0);
  std::vector<float> response_mask(batch * longest_response, 0.f);
  for (int64_t i = 0; i < batch; ++i) {
    const int64_t p = prompts[i].size();
    const int64_t r = responses[i].size();
    for (int64_t t = 0; t < p; ++t) ids[i * longest + t] = prompts[i][t];
    for (int64_t t = 0; t < r; ++t) {
      ids[i * longest + p + t] = responses[i][t];
      predictor[i * longest_response + t] = p + t - 1;
      targets[i * longest_response + t] = responses[i][t];
      response_mask[i * longest_response + t] = 1.f;
    }
    for (int64_t t = 0; t < p + r; ++t) mask[i * longest + t] = 1;
    last[i] = p + r - 1;
  }
  auto as_tensor = [&](std::vector<int64_t>& v, std::vector<int64_t> shape) {
    return torch::from_blob(v.data(), shape, torch::kLong).clone().to(device);
  };
  const at::Tensor hidden =
      model.Forward(as_tensor(ids, {batch, longest}), as_tensor(mask, {batch, longest}));
  const int64_t width = hidden.size(-1);
  ResponseScores scores;
  const at::Tensor index = as_tensor(predictor, {batch, longest_response});
  scores.hidden = hidden.gather(1, index.unsqueeze(-1).expand({batch, longest_response, width}));
  scores.last_hidden =
      hidden.gather(1, as_tensor(last, {batch}).view({batch, 1, 1}).expand({batch, 1, width}))
          .squeeze(1);
  scores.mask = torch::from_blob(response_mask.data(), {batch, longest_response}, torch::kFloat)
                    .clone()
                    .to(device);
  if (model.config().reward_readout == RewardReadout::kResponseMean) {
    // Weights [B, 1, L]: 1/r over the row's r response tokens; a linear head makes the reward
    // of this mean the mean of the per-token rewards.
    std::vector<float> pool(batch * longest, 0.f);
    for (int64_t i = 0; i < batch; ++i) {
      const int64_t p = prompts[i].size();
      const int64_t r = responses[i].size();
      if (r == 0) pool[i * longest + p - 1] = 1.f;
      for (int64_t t = 0; t < r; ++t) pool[i * longest + p + t] = 1.f / static_cast<float>(r);
    }
    // A copy: from_blob aliases `pool`, and backward reads the weights after it is gone.
    const at::Tensor weights = torch::from_blob(pool.data(), {batch, 1, longest}, torch::kFloat)
                                   .clone()
                                   .to(device, hidden.scalar_type());
    scores.reward_hidden = at::bmm(weights, hidden).squeeze(1);
  } else {
    scores.reward_hidden = scores.last_hidden;
  }
  at::Tensor logits = model.Logits(scores.hidden).to(torch::kFloat);
  // Dividing by 1 would cost a pass over [batch, length, vocab] forward and another backward.
  if (temperature != 1.0) logits = logits / temperature;
  const at::Tensor log_probs = logits.log_softmax(-1);
  scores.logprobs =
      log_probs.gather(-1, as_tensor(targets, {batch, longest_response}).unsqueeze(-1))
          .squeeze(-1) *
      scores.mask;
  if (with_entropy) scores.entropy = -(log_probs.exp() * log_probs).sum(-1) * scores.mask;
  return scores;
}

}  // namespace plumb::model
