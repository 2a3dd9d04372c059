#include "common/model/logprobs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::model {
namespace {

// A small grouped-query model (4 query heads, 1 key/value head).
ModelConfig SmallConfig() {
  ModelConfig config;
  config.vocab_size = 40;
  config.hidden_size = 32;
  config.intermediate_size = 40;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 1;
  config.max_position_embeddings = 32;
  return config;
}

TEST(LogProbsTest, MatchLogSoftmaxOfAFullForwardAndMaskPromptAndPadding) {
  ModelConfig config = SmallConfig();
  torch::manual_seed(8);
  Transformer model(config);
  model->eval();
  torch::NoGradGuard no_grad;
  const std::vector<std::vector<int64_t>> prompts = {{1, 2, 3}, {4}};
  const std::vector<std::vector<int64_t>> responses = {{5, 6}, {7, 8, 9, 10}};
  auto scores = ScoreResponses(*model, prompts, responses, 0.8, /*with_entropy=*/true);
  ASSERT_TRUE(scores.ok()) << scores.status();
  EXPECT_FALSE(ScoreResponses(*model, prompts, responses)->entropy.defined());
  EXPECT_EQ(scores->logprobs.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_TRUE(at::equal(scores->mask, torch::tensor({{1.f, 1.f, 0.f, 0.f}, {1.f, 1.f, 1.f, 1.f}})));
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> full = prompts[i];
    full.insert(full.end(), responses[i].begin(), responses[i].end());
    const at::Tensor ids = torch::tensor(full).unsqueeze(0);
    const at::Tensor logits = model->Logits(model->Forward(ids, torch::ones_like(ids)))[0] / 0.8;
    const at::Tensor logp = logits.log_softmax(-1);
    // Entropy as logsumexp(z) - sum softmax(z) z.
    const at::Tensor entropy = logits.logsumexp(-1) - (logits.softmax(-1) * logits).sum(-1);
    for (size_t t = 0; t < responses[i].size(); ++t) {
      const int64_t position = prompts[i].size() + t - 1;
      EXPECT_NEAR(scores->logprobs[i][t].item<float>(),
                  logp[position][responses[i][t]].item<float>(), 1e-5);
      EXPECT_NEAR(scores->entropy[i][t].item<float>(), entropy[position].item<float>(), 1e-5);
    }
  }
  EXPECT_EQ(scores->logprobs[0][2].item<float>(), 0.f);
  EXPECT_EQ(scores->entropy[0][2].item<float>(), 0.f);
}

TEST(LogProbsTest, TheRewardInputIsTheLastTokenOrTheMeanOverTheResponse) {
  ModelConfig config = SmallConfig();
  config.num_reward_outputs = 1;
  const std::vector<std::vector<int64_t>> prompts = {{1, 2, 3}, {4}, {5, 6}};
  const std::vector<std::vector<int64_t>> responses = {{5, 6}, {7, 8, 9, 10}, {}};
  for (RewardReadout readout : {RewardReadout::kLastToken, RewardReadout::kResponseMean}) {
    SCOPED_TRACE(RewardReadoutName(readout));
    config.reward_readout = readout;
    torch::manual_seed(9);
    Transformer model(config);
    model->eval();
    torch::NoGradGuard no_grad;
    auto scores = ScoreResponses(*model, prompts, responses);
    ASSERT_TRUE(scores.ok()) << scores.status();
    ASSERT_EQ(scores->reward_hidden.sizes(), (std::vector<int64_t>{3, 32}));
    for (size_t i = 0; i < prompts.size(); ++i) {
      std::vector<int64_t> full = prompts[i];
      full.insert(full.end(), responses[i].begin(), responses[i].end());
      const at::Tensor ids = torch::tensor(full).unsqueeze(0);
      const at::Tensor hidden = model->Forward(ids, torch::ones_like(ids))[0];  // [T, H]
      const int64_t p = prompts[i].size();
      const int64_t r = responses[i].size();
      // The mean of the hidden states at the response's own positions; an empty response has
      // none, so it reads its prompt's last token.
      const at::Tensor want = readout == RewardReadout::kLastToken || r == 0
                                  ? hidden[p + r - 1]
                                  : hidden.slice(0, p, p + r).mean(0);
      EXPECT_TRUE(at::allclose(scores->reward_hidden[i], want, 1e-5, 1e-5)) << i;
      // Rewards of the mean = mean of the per-token rewards (the head is linear).
      if (readout == RewardReadout::kResponseMean && r > 0) {
        EXPECT_NEAR(model->Rewards(scores->reward_hidden[i]).item<float>(),
                    model->Rewards(hidden.slice(0, p, p + r)).mean().item<float>(), 1e-5);
      }
    }
  }
}

TEST(LogProbsTest, InvalidBatchesAreRefused) {
  ModelConfig config;
  config.max_position_embeddings = 8;
  torch::manual_seed(1);
  Transformer model(config);
  EXPECT_THAT(std::string(ScoreResponses(*model, {{1}}, {{1}, {2}}).status().message()),
              ::testing::HasSubstr("1 prompts but 2 responses"));
  EXPECT_THAT(std::string(ScoreResponses(*model, {{1}}, {{-3}}).status().message()),
              ::testing::HasSubstr("response 0, position 0: token id -3 is outside"));
  EXPECT_THAT(
      std::string(ScoreResponses(*model, {{1, 2, 3, 4, 5}}, {{1, 2, 3, 4}}).status().message()),
      ::testing::HasSubstr("sequence 0: 9 tokens exceed the context of 8 positions"));
}

}  // namespace
}  // namespace plumb::model
