#include "common/model/lora.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::model {
namespace {

ModelConfig Config() {
  ModelConfig config;
  config.vocab_size = 30;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 32;
  return config;
}

TEST(LoraTest, StartsAsTheBaseModelTrainsOnlyAdaptersAndMergesExactly) {
  torch::manual_seed(4);
  Transformer model(Config());
  const at::Tensor ids = torch::randint(30, {2, 7});
  const at::Tensor mask = torch::ones({2, 7});
  at::Tensor before;
  {
    torch::NoGradGuard no_grad;
    before = model->Logits(model->Forward(ids, mask));
  }
  LoraOptions options;
  options.rank = 4;
  options.target_modules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                            "gate_proj", "up_proj", "down_proj"};
  ASSERT_TRUE(ApplyLora(*model, options).ok());
  std::vector<at::Tensor> trainable = TrainableParameters(*model);
  EXPECT_EQ(trainable.size(), 2u * 7 * 2);  // a and b, 7 targets, 2 layers
  {
    torch::NoGradGuard no_grad;
    EXPECT_LT((model->Logits(model->Forward(ids, mask)) - before).abs().max().item<double>(), 1e-6);
  }
  const at::Tensor base_qkv = model->layers()[0].qkv.clone();
  torch::optim::SGD sgd(trainable, torch::optim::SGDOptions(0.5));
  for (int step = 0; step < 3; ++step) {
    sgd.zero_grad();
    model->Logits(model->Forward(ids, mask)).logsumexp(-1).mean().backward();
    sgd.step();
  }
  EXPECT_TRUE(at::equal(model->layers()[0].qkv, base_qkv));  // base frozen
  at::Tensor tuned;
  {
    torch::NoGradGuard no_grad;
    tuned = model->Logits(model->Forward(ids, mask));
  }
  EXPECT_GT((tuned - before).abs().max().item<double>(), 1e-4);
  MergeLora(*model);
  EXPECT_FALSE(at::equal(model->layers()[0].qkv, base_qkv));
  torch::NoGradGuard no_grad;
  EXPECT_LT((model->Logits(model->Forward(ids, mask)) - tuned).abs().max().item<double>(), 1e-5);
}

// With LoRA the embedding is frozen, so the first checkpointed layer's input needs no gradient;
// the adapters inside the layers still must get theirs.
TEST(LoraTest, GradientCheckpointingGivesTheAdaptersTheSameGradients) {
  const at::Tensor ids = torch::randint(30, {2, 7});
  const at::Tensor mask = torch::ones({2, 7});
  std::vector<at::Tensor> grads[2];
  for (int checkpointing = 0; checkpointing < 2; ++checkpointing) {
    torch::manual_seed(6);
    Transformer model(Config());
    LoraOptions options;
    options.rank = 4;
    ASSERT_TRUE(ApplyLora(*model, options).ok());
    {
      // B starts at 0, which would hide a gradient that skips A.
      torch::NoGradGuard no_grad;
      for (at::Tensor& p : TrainableParameters(*model)) p.normal_(0, 0.1);
    }
    model->train();
    model->set_gradient_checkpointing(checkpointing == 1);
    model->Logits(model->Forward(ids, mask)).logsumexp(-1).mean().backward();
    for (const at::Tensor& p : TrainableParameters(*model)) {
      ASSERT_TRUE(p.grad().defined()) << "checkpointing " << checkpointing;
      grads[checkpointing].push_back(p.grad().clone());
    }
  }
  ASSERT_EQ(grads[0].size(), grads[1].size());
  for (size_t i = 0; i < grads[0].size(); ++i) {
    EXPECT_LT((grads[0][i] - grads[1][i]).abs().max().item<double>(), 1e-6) << i;
  }
}

TEST(LoraTest, BadOptionsAreRefused) {
  torch::manual_seed(1);
  Transformer model(Config());
  LoraOptions options;
  options.target_modules = {"qkv"};
  EXPECT_THAT(std::string(ApplyLora(*model, options).message()),
              ::testing::HasSubstr("unknown LoRA target module 'qkv'"));
  options.target_modules = {"k_proj"};
  options.rank = 17;
  EXPECT_EQ(ApplyLora(*model, options).message(), "LoRA rank 17 for k_proj must be in [1, 16]");
  auto section =
      config::ConfigMap::FromString("rank: 8\ntarget_modules: [q_proj, w_proj]\n", "lora.yaml");
  ASSERT_TRUE(section.ok());
  LoraOptions parsed;
  EXPECT_THAT(std::string(ParseLoraOptions(*section, &parsed).message()),
              ::testing::HasSubstr("lora.yaml:2: key 'target_modules': unknown module 'w_proj'"));
}

// The reader's list of module names (lora_options.cc, no LibTorch) and ApplyLora's agree.
TEST(LoraTest, EveryModuleTheReaderAcceptsApplies) {
  torch::manual_seed(1);
  Transformer model(Config());
  auto section = config::ConfigMap::FromString(
      "target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj]\n",
      "lora.yaml");
  ASSERT_TRUE(section.ok());
  LoraOptions parsed;
  ASSERT_TRUE(ParseLoraOptions(*section, &parsed).ok());
  EXPECT_EQ(parsed.target_modules.size(), 7u);
  EXPECT_TRUE(ApplyLora(*model, parsed).ok());
  EXPECT_FALSE(IsLoraTargetModule("qkv"));
}

}  // namespace
}  // namespace plumb::model
