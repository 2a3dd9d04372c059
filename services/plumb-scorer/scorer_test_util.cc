#include "services/plumb-scorer/scorer_test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include "common/model/hf_checkpoint.h"
#include "common/status/status_macros.h"
#include "common/weights/versioned_model.h"

namespace plumb::scorer::testing {

std::filesystem::path FreshDir(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                                    ("plumb_scorer_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

model::ModelConfig TinyRewardConfig(int64_t outputs) {
  model::ModelConfig config;
  config.vocab_size = 259;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 32;
  config.num_reward_outputs = outputs;
  return config;
}

model::Transformer MakeTinyRewardModel(uint64_t seed, int64_t outputs) {
  torch::manual_seed(seed);
  model::Transformer model(TinyRewardConfig(outputs));
  torch::NoGradGuard no_grad;
  model->reward_head().normal_(0.0, 1.0);  // scores of order 1, so differences are visible
  model->eval();
  return model;
}

void WriteTinyRewardModel(const std::filesystem::path& dir, uint64_t seed, int64_t outputs) {
  model::Transformer model = MakeTinyRewardModel(seed, outputs);
  const absl::Status status = model::SaveHfModel(*model, dir);
  ASSERT_TRUE(status.ok()) << status;
}

double DirectReward(model::Transformer& model, const std::vector<int64_t>& ids, int output) {
  torch::NoGradGuard no_grad;
  const at::Tensor input = torch::tensor(ids, torch::kLong).unsqueeze(0);          // [1, T]
  const at::Tensor hidden = model->Forward(input, torch::ones_like(input));        // [1, T, H]
  const at::Tensor last = hidden.select(1, static_cast<int64_t>(ids.size()) - 1);  // [1, H]
  return model->Rewards(last).index({0, output}).item<double>();
}

absl::Status SwapWeights(Scorer& scorer, const std::string& objective, model::Transformer& model,
                         uint64_t version, const std::string& source) {
  ASSIGN_OR_RETURN(weights::VersionedModel * versioned, scorer.ModelForWeights(objective));
  weights::ReceivedWeights received;
  received.version = version;
  received.source = source;
  received.tensors = model::ExportHfTensors(*model);
  return versioned->Apply(received).status();
}

}  // namespace plumb::scorer::testing
