// The objectives' contract with the training loop: the gradient of a global batch is the same
// however it is split into rank slices and micro-batches (what makes data parallelism and
// gradient accumulation exact), and each objective reads only the examples it accepts.
#include "common/train/objectives.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/tokenizer/byte_tokenizer.h"

namespace plumb::train {
namespace {

using ::testing::HasSubstr;

model::ModelConfig TinyConfig() {
  model::ModelConfig config;
  config.vocab_size = 259;
  config.hidden_size = 32;
  config.intermediate_size = 64;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 128;
  config.num_reward_outputs = 1;
  return config;
}

data::Example Pair(const std::string& prompt, const std::string& chosen,
                   const std::string& rejected, double margin = 0.0) {
  data::PreferencePair pair{prompt, chosen, rejected};
  if (margin != 0) pair.margin = margin;
  return data::Example{pair, {"test.jsonl", 1, 0}};
}

class ObjectivesTest : public ::testing::Test {
 protected:
  ObjectivesTest() : policy_(nullptr), reference_(nullptr) {
    torch::manual_seed(11);
    policy_ = model::Transformer(TinyConfig());
    torch::manual_seed(12);
    reference_ = model::Transformer(TinyConfig());
    for (at::Tensor& p : reference_->parameters()) p.set_requires_grad(false);
    std::shared_ptr<const tokenizer::Tokenizer> tok = *tokenizer::ByteTokenizer::Create();
    encoder_ = std::make_unique<ExampleEncoder>(
        tok, EncoderOptions{.max_length = 48, .max_prompt_length = 16});
    pairs_ = {Pair("Q1:", " sunny day", " grim", 1.0), Pair("Q22:", " kind", " cruel words"),
              Pair("Q3:", " warm calm", " cold", 0.5), Pair("Q4 long prompt:", " joy", " dark")};
  }

  std::vector<at::Tensor> Gradients(TrainingObjective& objective,
                                    const std::vector<data::Example>& batch,
                                    std::vector<std::pair<int64_t, int64_t>> slices,
                                    int64_t micro) {
    policy_->zero_grad();
    std::unique_ptr<World> world = World::Single();
    for (auto [begin, end] : slices) {
      StepContext ctx{world.get(), &batch, begin, end, micro, false};
      StatSums stats;
      absl::Status status = objective.AccumulateGradients(ctx, &stats);
      EXPECT_TRUE(status.ok()) << status;
      EXPECT_TRUE(stats.Means().count("loss"));
    }
    std::vector<at::Tensor> grads;
    for (const at::Tensor& p : policy_->parameters()) {
      grads.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    }
    return grads;
  }

  void ExpectSameGradients(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b,
                           const std::string& kind) {
    ASSERT_EQ(a.size(), b.size());
    double norm = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_TRUE(torch::allclose(a[i], b[i], 1e-4, 1e-6)) << kind << " parameter " << i;
      norm += a[i].norm().item<double>();
    }
    EXPECT_GT(norm, 0) << kind << ": no gradient at all";
  }

  ObjectiveModels Models() { return {policy_.get(), reference_.get(), false}; }

  model::Transformer policy_;
  model::Transformer reference_;
  std::unique_ptr<ExampleEncoder> encoder_;
  std::vector<data::Example> pairs_;
};

TEST_F(ObjectivesTest, RankSlicesAndMicroBatchesGiveTheWholeBatchGradient) {
  for (const std::string kind : {"sft", "reward_model", "dpo", "orpo", "simpo", "rrhf"}) {
    ObjectiveOptions options;
    options.kind = kind;
    options.simpo.cpo_alpha = 0.5;  // exercise SimPO's token-normalised NLL term too
    absl::StatusOr<std::unique_ptr<TrainingObjective>> objective =
        MakeObjective(options, Models(), encoder_.get());
    ASSERT_TRUE(objective.ok()) << objective.status();
    const auto whole = Gradients(**objective, pairs_, {{0, 4}}, 4);
    const auto sliced = Gradients(**objective, pairs_, {{0, 2}, {2, 4}}, 1);
    ExpectSameGradients(whole, sliced, kind);
  }
}

TEST_F(ObjectivesTest, PackedSftHasTheLossAndGradientOfUnpackedSft) {
  ObjectiveOptions options;
  options.kind = "sft";
  std::unique_ptr<TrainingObjective> plain = *MakeObjective(options, Models(), encoder_.get());
  options.sft.packing = true;
  std::unique_ptr<TrainingObjective> packed = *MakeObjective(options, Models(), encoder_.get());
  ExpectSameGradients(Gradients(*plain, pairs_, {{0, 4}}, 4),
                      Gradients(*packed, pairs_, {{0, 4}}, 4), "packed sft");
  StatSums a, b;
  ASSERT_TRUE(plain->Evaluate(pairs_, 4, &a).ok());
  ASSERT_TRUE(packed->Evaluate(pairs_, 4, &b).ok());
  EXPECT_NEAR(a.Means()["loss"], b.Means()["loss"], 1e-5);
  EXPECT_EQ(a.values().at("loss").second, b.values().at("loss").second);  // same token count
}

TEST_F(ObjectivesTest, KtoMicroBatchesGiveTheWholeBatchGradient) {
  std::vector<data::Example> batch;
  for (int i = 0; i < 6; ++i) {
    batch.push_back(data::Example{data::UnpairedExample{"Q" + std::to_string(i) + ":",
                                                        i % 2 ? " grim" : " sunny", i % 2 == 0},
                                  {}});
  }
  ObjectiveOptions options;
  options.kind = "kto";
  absl::StatusOr<std::unique_ptr<TrainingObjective>> objective =
      MakeObjective(options, Models(), encoder_.get());
  ASSERT_TRUE(objective.ok());
  ExpectSameGradients(Gradients(**objective, batch, {{0, 6}}, 6),
                      Gradients(**objective, batch, {{0, 6}}, 2), "kto");
}

TEST_F(ObjectivesTest, DpoGradientRaisesChosenAndLowersRejected) {
  ObjectiveOptions options;
  options.kind = "dpo";
  std::unique_ptr<TrainingObjective> objective = *MakeObjective(options, Models(), encoder_.get());
  StatSums before;
  ASSERT_TRUE(objective->Evaluate(pairs_, 4, &before).ok());
  torch::optim::SGD sgd(policy_->parameters(), torch::optim::SGDOptions(0.05));
  for (int step = 0; step < 5; ++step) {
    Gradients(*objective, pairs_, {{0, 4}}, 4);
    sgd.step();
  }
  StatSums after;
  ASSERT_TRUE(objective->Evaluate(pairs_, 4, &after).ok());
  EXPECT_GT(after.Means()["logp_margin"], before.Means()["logp_margin"]);
  EXPECT_GT(after.Means()["rewards/margin"], 0);
  EXPECT_LT(after.Means()["loss"], before.Means()["loss"]);
}

TEST_F(ObjectivesTest, WrongExampleTypesAndMissingModelsAreRefused) {
  ObjectiveOptions options;
  options.kind = "kto";
  std::unique_ptr<TrainingObjective> kto = *MakeObjective(options, Models(), encoder_.get());
  std::unique_ptr<World> world = World::Single();
  StepContext ctx{world.get(), &pairs_, 0, 4, 4, false};
  StatSums stats;
  EXPECT_THAT(std::string(kto->AccumulateGradients(ctx, &stats).message()),
              HasSubstr("test.jsonl:1: kind 'kto' trains on unpaired"));

  options.kind = "dpo";
  EXPECT_THAT(std::string(MakeObjective(options, {policy_.get(), nullptr, false}, encoder_.get())
                              .status()
                              .message()),
              HasSubstr("needs a frozen reference model"));
  options.dpo.reference_free = true;
  EXPECT_TRUE(MakeObjective(options, {policy_.get(), nullptr, false}, encoder_.get()).ok());

  options.kind = "reward_model";
  options.reward_model.output_index = 3;
  EXPECT_THAT(std::string(MakeObjective(options, Models(), encoder_.get()).status().message()),
              HasSubstr("set model.reward_outputs"));
  options.kind = "ppo";
  EXPECT_THAT(std::string(MakeObjective(options, Models(), encoder_.get()).status().message()),
              HasSubstr("kind 'ppo' is unknown"));
}

}  // namespace
}  // namespace plumb::train
