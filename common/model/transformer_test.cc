#include "common/model/transformer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::model {
namespace {

ModelConfig TinyConfig(int64_t kv_heads = 2, bool tied = false) {
  ModelConfig config;
  config.vocab_size = 61;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = kv_heads;
  config.max_position_embeddings = 64;
  config.tie_word_embeddings = tied;
  config.num_reward_outputs = 2;
  return config;
}

Transformer MakeModel(const ModelConfig& config, uint64_t seed = 1) {
  torch::manual_seed(seed);
  Transformer model(config);
  model->eval();
  return model;
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(TransformerTest, ProducesLogitsValuesAndRewardsOfTheDocumentedShapes) {
  Transformer model = MakeModel(TinyConfig());
  torch::NoGradGuard no_grad;
  const at::Tensor ids = torch::randint(61, {3, 7});
  const at::Tensor hidden = model->Forward(ids, torch::ones({3, 7}));
  EXPECT_EQ(hidden.sizes(), (std::vector<int64_t>{3, 7, 32}));
  EXPECT_EQ(model->Logits(hidden).sizes(), (std::vector<int64_t>{3, 7, 61}));
  EXPECT_EQ(model->Values(hidden).sizes(), (std::vector<int64_t>{3, 7}));
  EXPECT_EQ(model->Rewards(hidden).sizes(), (std::vector<int64_t>{3, 7, 2}));
}

TEST(TransformerTest, LaterTokensDoNotChangeEarlierOutputs) {
  Transformer model = MakeModel(TinyConfig());
  torch::NoGradGuard no_grad;
  at::Tensor ids = torch::randint(61, {1, 9});
  const at::Tensor before = model->Logits(model->Forward(ids, torch::ones({1, 9})));
  ids.index_put_({0, 8}, (ids.index({0, 8}).item<int64_t>() + 1) % 61);
  const at::Tensor after = model->Logits(model->Forward(ids, torch::ones({1, 9})));
  EXPECT_LT(MaxDiff(before.narrow(1, 0, 8), after.narrow(1, 0, 8)), 1e-6);
  EXPECT_GT(MaxDiff(before.narrow(1, 8, 1), after.narrow(1, 8, 1)), 1e-4);
}

TEST(TransformerTest, LeftAndRightPaddingLeaveRealTokensUnchanged) {
  Transformer model = MakeModel(TinyConfig());
  torch::NoGradGuard no_grad;
  const at::Tensor ids = torch::randint(61, {1, 5});
  const at::Tensor alone = model->Logits(model->Forward(ids, torch::ones({1, 5})));
  const at::Tensor pad = torch::zeros({1, 3}, torch::kLong);
  const at::Tensor right = at::cat({ids, pad}, 1);
  const at::Tensor right_mask = at::cat({torch::ones({1, 5}), torch::zeros({1, 3})}, 1);
  const at::Tensor left = at::cat({pad, ids}, 1);
  const at::Tensor left_mask = at::cat({torch::zeros({1, 3}), torch::ones({1, 5})}, 1);
  const at::Tensor right_out = model->Logits(model->Forward(right, right_mask));
  const at::Tensor left_out = model->Logits(model->Forward(left, left_mask));
  EXPECT_LT(MaxDiff(right_out.narrow(1, 0, 5), alone), 1e-5);
  EXPECT_LT(MaxDiff(left_out.narrow(1, 3, 5), alone), 1e-5);
  EXPECT_FALSE(left_out.isnan().any().item<bool>());
}

TEST(TransformerTest, PackedSegmentsSeeOnlyThemselves) {
  Transformer model = MakeModel(TinyConfig());
  torch::NoGradGuard no_grad;
  const at::Tensor a = torch::randint(30, {1, 4}), b = torch::randint(30, {1, 3});
  const at::Tensor alone_a = model->Forward(a, torch::ones({1, 4}));
  const at::Tensor alone_b = model->Forward(b, torch::ones({1, 3}));
  // One row: a, b, then one padding position.
  const at::Tensor ids = torch::cat({a, b, torch::zeros({1, 1}, torch::kLong)}, 1);
  const at::Tensor segments = torch::tensor({1, 1, 1, 1, 2, 2, 2, 0}, torch::kLong).view({1, 8});
  const at::Tensor positions = torch::tensor({0, 1, 2, 3, 0, 1, 2, 0}, torch::kLong).view({1, 8});
  const at::Tensor packed =
      model->Forward(ids, (segments > 0).to(torch::kLong), positions, nullptr, segments);
  EXPECT_LT((packed.narrow(1, 0, 4) - alone_a).abs().max().item<double>(), 1e-5);
  EXPECT_LT((packed.narrow(1, 4, 3) - alone_b).abs().max().item<double>(), 1e-5);
  // Without segment ids the second document would see the first.
  const at::Tensor leaky = model->Forward(ids, (segments > 0).to(torch::kLong), positions);
  EXPECT_GT((leaky.narrow(1, 4, 3) - alone_b).abs().max().item<double>(), 1e-3);
}

TEST(TransformerTest, CachedDecodingEqualsTheFullForward) {
  for (int64_t kv_heads : {4, 2, 1}) {
    Transformer model = MakeModel(TinyConfig(kv_heads));
    torch::NoGradGuard no_grad;
    const at::Tensor ids = torch::randint(61, {2, 10});
    const at::Tensor mask = torch::ones({2, 10});
    const at::Tensor full = model->Logits(model->Forward(ids, mask));
    KvCache cache = model->NewCache(2, 16);
    std::vector<at::Tensor> steps;
    steps.push_back(
        model->Logits(model->Forward(ids.narrow(1, 0, 6), mask.narrow(1, 0, 6), {}, &cache)));
    for (int64_t t = 6; t < 10; ++t) {
      steps.push_back(
          model->Logits(model->Forward(ids.narrow(1, t, 1), mask.narrow(1, t, 1), {}, &cache)));
    }
    EXPECT_EQ(cache.length, 10);
    EXPECT_LT(MaxDiff(at::cat(steps, 1), full), 1e-5) << "kv_heads " << kv_heads;
  }
}

TEST(TransformerTest, TiedEmbeddingsShareTheMatrix) {
  Transformer model = MakeModel(TinyConfig(2, /*tied=*/true));
  EXPECT_FALSE(model->lm_head().defined());
  EXPECT_EQ(model->lm_head_weight().data_ptr(), model->embed_tokens().data_ptr());
  EXPECT_EQ(model->parameters().size(), MakeModel(TinyConfig(2, false))->parameters().size() - 1);
}

TEST(TransformerTest, GradientCheckpointingGivesTheSameGradients) {
  const ModelConfig config = TinyConfig();
  const at::Tensor ids = torch::randint(61, {2, 6});
  std::vector<at::Tensor> grads[2];
  for (int checkpointing = 0; checkpointing < 2; ++checkpointing) {
    Transformer model = MakeModel(config, 5);
    model->train();
    model->set_gradient_checkpointing(checkpointing == 1);
    const at::Tensor logits = model->Logits(model->Forward(ids, torch::ones({2, 6})));
    logits.pow(2).mean().backward();
    for (const auto& p : model->parameters()) {
      grads[checkpointing].push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
    }
  }
  ASSERT_EQ(grads[0].size(), grads[1].size());
  int compared = 0;
  for (size_t i = 0; i < grads[0].size(); ++i) {
    if (!grads[0][i].defined()) continue;
    ASSERT_TRUE(grads[1][i].defined()) << i;
    EXPECT_LT(MaxDiff(grads[0][i], grads[1][i]), 1e-6) << i;
    ++compared;
  }
  EXPECT_GE(compared, 14);
}

TEST(TransformerTest, ModelConfigValidationNamesTheField) {
  ModelConfig config = TinyConfig(3);
  EXPECT_EQ(config.Validate().message(),
            "model config: num_attention_heads 4 is not a multiple of num_key_value_heads 3");
  config = TinyConfig();
  config.hidden_size = 30;
  EXPECT_EQ(config.Validate().message(),
            "model config: hidden_size 30 is not a multiple of num_attention_heads 4");
  config = TinyConfig();
  config.vocab_size = 0;
  EXPECT_EQ(config.Validate().message(), "model config: vocab_size must be positive, got 0");
  EXPECT_TRUE(TinyConfig().Validate().ok());
}

}  // namespace
}  // namespace plumb::model
