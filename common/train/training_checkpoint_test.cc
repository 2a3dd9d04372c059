#include "common/train/training_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

namespace plumb::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

model::ModelConfig Config(int64_t hidden) {
  model::ModelConfig config;
  config.vocab_size = 40;
  config.hidden_size = hidden;
  config.intermediate_size = 48;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 32;
  return config;
}

class TrainingCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / "training_checkpoint_test";
    fs::remove_all(dir_);
    torch::manual_seed(3);
    model_ = model::Transformer(Config(32));
    optimizer_ = std::make_unique<torch::optim::AdamW>(model_->parameters(),
                                                       torch::optim::AdamWOptions(1e-2));
    // Two steps so the optimizer has moments to save.
    for (int i = 0; i < 2; ++i) {
      optimizer_->zero_grad();
      model_->Logits(model_->Forward(torch::randint(40, {2, 5}), torch::ones({2, 5})))
          .pow(2)
          .mean()
          .backward();
      optimizer_->step();
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  model::Transformer model_{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer_;
};

TEST_F(TrainingCheckpointTest, RoundTripRestoresWeightsOptimizerGeneratorAndState) {
  RunState state{
      .step = 7, .total_steps = 20, .kind = "dpo", .data_state = "{\"x\":1}", .batch_size = 8};
  absl::StatusOr<fs::path> written = SaveTrainingCheckpoint(dir_, *model_, *optimizer_, state, 2);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(LatestCheckpoint(dir_), dir_ / "step-00000007");
  const at::Tensor next_random = torch::rand({4});

  torch::manual_seed(99);
  model::Transformer other(Config(32));
  torch::optim::AdamW other_optimizer(other->parameters(), torch::optim::AdamWOptions(1e-2));
  absl::StatusOr<RunState> loaded = LoadTrainingCheckpoint(*written, *other, other_optimizer);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->step, 7);
  EXPECT_EQ(loaded->kind, "dpo");
  EXPECT_EQ(loaded->data_state, "{\"x\":1}");
  auto a = model_->named_parameters(), b = other->named_parameters();
  for (const auto& item : a) EXPECT_TRUE(at::equal(item.value(), b[item.key()])) << item.key();
  EXPECT_TRUE(at::equal(torch::rand({4}), next_random));  // generator restored
  // The same next step from both optimizers gives the same weights.
  for (auto* m : {&model_, &other}) {
    (*m)->zero_grad();
    (*m)->Logits((*m)->Forward(torch::ones({1, 3}, torch::kLong), torch::ones({1, 3})))
        .sum()
        .backward();
  }
  optimizer_->step();
  other_optimizer.step();
  for (const auto& item : model_->named_parameters()) {
    EXPECT_TRUE(at::equal(item.value(), other->named_parameters()[item.key()])) << item.key();
  }
}

TEST_F(TrainingCheckpointTest, KeepsOnlyTheNewestCheckpoints) {
  for (int step : {1, 2, 3}) {
    ASSERT_TRUE(SaveTrainingCheckpoint(dir_, *model_, *optimizer_, RunState{.step = step}, 2).ok());
  }
  EXPECT_FALSE(fs::exists(dir_ / "step-00000001"));
  EXPECT_TRUE(fs::exists(dir_ / "step-00000002"));
  EXPECT_TRUE(fs::exists(dir_ / "step-00000003"));
  EXPECT_EQ(LatestCheckpoint(dir_), dir_ / "step-00000003");
}

TEST_F(TrainingCheckpointTest, ACorruptFileIsRefusedBeforeAnythingLoads) {
  absl::StatusOr<fs::path> written =
      SaveTrainingCheckpoint(dir_, *model_, *optimizer_, RunState{.step = 1}, 2);
  ASSERT_TRUE(written.ok());
  {
    std::fstream file(*written / "optimizer.pt", std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(100);
    file.put('\x7f');
  }
  torch::manual_seed(5);
  model::Transformer other(Config(32));
  const at::Tensor before = other->final_norm().clone();
  torch::optim::AdamW other_optimizer(other->parameters(), torch::optim::AdamWOptions(1e-2));
  absl::StatusOr<RunState> loaded = LoadTrainingCheckpoint(*written, *other, other_optimizer);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("optimizer.pt: checksum"));
  EXPECT_TRUE(at::equal(other->final_norm(), before));
}

// The weights fit, the optimizer's state does not (it was saved by an optimizer over other
// parameters): refused naming optimizer.pt, with the model unchanged.
TEST_F(TrainingCheckpointTest, AnOptimizerStateOfOtherParametersIsRefusedBeforeAnythingLoads) {
  absl::StatusOr<fs::path> written =
      SaveTrainingCheckpoint(dir_, *model_, *optimizer_, RunState{.step = 1}, 2);
  ASSERT_TRUE(written.ok());
  torch::manual_seed(5);
  model::Transformer other(Config(32));
  const at::Tensor before = other->final_norm().clone();
  torch::optim::AdamW fewer({other->final_norm()}, torch::optim::AdamWOptions(1e-2));
  absl::StatusOr<RunState> loaded = LoadTrainingCheckpoint(*written, *other, fewer);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument) << loaded.status();
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("optimizer.pt does not fit this session's optimizer"));
  EXPECT_TRUE(at::equal(other->final_norm(), before));
}

TEST_F(TrainingCheckpointTest, AModelOfAnotherShapeIsRefusedNamingTheTensors) {
  absl::StatusOr<fs::path> written =
      SaveTrainingCheckpoint(dir_, *model_, *optimizer_, RunState{.step = 1}, 2);
  ASSERT_TRUE(written.ok());
  model::Transformer wider(Config(64));
  const at::Tensor before = wider->embed_tokens().clone();
  torch::optim::AdamW other_optimizer(wider->parameters(), torch::optim::AdamWOptions(1e-2));
  absl::StatusOr<RunState> loaded = LoadTrainingCheckpoint(*written, *wider, other_optimizer);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("embed_tokens has shape [40, 32], the model has [40, 64]"));
  EXPECT_TRUE(at::equal(wider->embed_tokens(), before));
}

}  // namespace
}  // namespace plumb::train
