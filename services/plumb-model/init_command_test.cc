#include "services/plumb-model/init_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kByteVocab = 259;

TEST(InitCommandTest, PresetsHaveTheSizesTheirNamesPromise) {
  InitOptions options;
  options.size = "tiny";
  EXPECT_EQ(InitConfig(options, kByteVocab)->ParameterCount(), 125'632);
  options.size = "3m";
  const int64_t three = InitConfig(options, kByteVocab)->ParameterCount();
  EXPECT_GT(three, 2'700'000);
  EXPECT_LT(three, 3'300'000);
  options.size = "25m";
  const int64_t twenty_five = InitConfig(options, kByteVocab)->ParameterCount();
  EXPECT_GT(twenty_five, 24'000'000);
  EXPECT_LT(twenty_five, 26'500'000);
}

TEST(InitCommandTest, OverridesReplaceThePresetAndHeadsAloneMeansFullMultiHeadAttention) {
  InitOptions options;
  options.hidden = 96;
  options.heads = 6;
  options.layers = 3;
  options.context = 64;
  options.tied = true;
  options.reward_outputs = 2;
  absl::StatusOr<model::ModelConfig> config = InitConfig(options, 1000);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->vocab_size, 1000);
  EXPECT_EQ(config->hidden_size, 96);
  EXPECT_EQ(config->num_attention_heads, 6);
  EXPECT_EQ(config->num_key_value_heads, 6);
  EXPECT_EQ(config->num_hidden_layers, 3);
  EXPECT_EQ(config->max_position_embeddings, 64);
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->num_reward_outputs, 2);

  options.kv_heads = 2;
  EXPECT_EQ(InitConfig(options, 1000)->num_key_value_heads, 2);
}

TEST(InitCommandTest, InvalidShapeIsAUsageErrorNamingTheFieldAndFlags) {
  InitOptions options;
  options.heads = 3;  // 64 is not a multiple of 3
  absl::StatusOr<model::ModelConfig> config = InitConfig(options, kByteVocab);
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(IsUsageError(config.status()));
  EXPECT_THAT(config.status().message(), HasSubstr("num_attention_heads"));
  EXPECT_THAT(config.status().message(), HasSubstr("--heads"));
}

TEST(InitCommandTest, UnknownSizeIsAUsageErrorListingThePresets) {
  absl::StatusOr<model::ModelConfig> config = PresetConfig("huge");
  ASSERT_FALSE(config.ok());
  EXPECT_TRUE(IsUsageError(config.status()));
  EXPECT_THAT(config.status().message(), HasSubstr("tiny, 3m or 25m"));
}

}  // namespace
}  // namespace plumb::model_tool
