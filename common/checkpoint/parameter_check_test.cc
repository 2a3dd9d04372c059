#include "common/checkpoint/parameter_check.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/hf_llama_parameters.h"

namespace plumb::checkpoint {
namespace {

using ::testing::HasSubstr;

// A checkpoint that matches `expected` exactly, in bfloat16.
TensorMap MatchingCheckpoint(const ExpectedParameters& expected) {
  TensorMap tensors;
  at::manual_seed(5);
  for (const auto& [name, want] : expected) {
    tensors.emplace(name, at::randn(want.shape).to(at::kBFloat16));
  }
  return tensors;
}

model::ModelConfig TinyConfig() {
  model::ModelConfig config;
  config.vocab_size = 50;
  config.hidden_size = 128;
  config.intermediate_size = 96;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  return config;
}

ParameterCheckOptions Options() { return {.checkpoint = "/ckpt/tiny"}; }

TEST(ParameterCheckTest, MatchingTensorsAreConvertedToTheExpectedDType) {
  const ExpectedParameters expected = HfLlamaParameters(TinyConfig(), at::kFloat);
  const TensorMap checkpoint = MatchingCheckpoint(expected);
  absl::StatusOr<TensorMap> checked = CheckAndConvertParameters(checkpoint, expected, Options());
  ASSERT_TRUE(checked.ok()) << checked.status();
  ASSERT_EQ(checked->size(), expected.size());
  for (const auto& [name, tensor] : *checked) {
    EXPECT_EQ(tensor.scalar_type(), at::kFloat) << name;
    // bfloat16 -> float32 is exact.
    EXPECT_TRUE(at::equal(tensor, checkpoint.at(name).to(at::kFloat))) << name;
  }
}

TEST(ParameterCheckTest, ShapeMismatchNamesTheTensorAndBothShapes) {
  const ExpectedParameters expected = HfLlamaParameters(TinyConfig(), at::kFloat);
  TensorMap checkpoint = MatchingCheckpoint(expected);
  checkpoint["model.layers.0.self_attn.q_proj.weight"] = at::zeros({64, 128});
  const absl::Status status = CheckAndConvertParameters(checkpoint, expected, Options()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "checkpoint /ckpt/tiny: tensor 'model.layers.0.self_attn.q_proj.weight' has shape "
            "[64, 128], config.json says [128, 128]");
}

TEST(ParameterCheckTest, EveryMissingUnexpectedAndMismatchedTensorIsReported) {
  const ExpectedParameters expected = HfLlamaParameters(TinyConfig(), at::kFloat);
  TensorMap checkpoint = MatchingCheckpoint(expected);
  checkpoint.erase("model.norm.weight");
  checkpoint.erase("lm_head.weight");
  checkpoint["model.layers.1.mlp.down_proj.weight"] = at::zeros({96, 128});
  checkpoint["model.layers.2.mlp.up_proj.weight"] = at::zeros({3});
  const std::string message(
      CheckAndConvertParameters(checkpoint, expected, Options()).status().message());
  EXPECT_THAT(message, HasSubstr("checkpoint /ckpt/tiny: tensor 'model.norm.weight' is missing "
                                 "(config.json expects shape [128])"));
  EXPECT_THAT(message, HasSubstr("tensor 'lm_head.weight' is missing"));
  EXPECT_THAT(message, HasSubstr("tensor 'model.layers.1.mlp.down_proj.weight' has shape "
                                 "[96, 128], config.json says [128, 96]"));
  EXPECT_THAT(message, HasSubstr("checkpoint /ckpt/tiny: unexpected tensor "
                                 "'model.layers.2.mlp.up_proj.weight' with shape [3] (not a "
                                 "parameter config.json implies)"));
}

TEST(ParameterCheckTest, ReportIsCappedAtTheConfiguredNumberOfProblems) {
  const ExpectedParameters expected = HfLlamaParameters(TinyConfig(), at::kFloat);
  ParameterCheckOptions options = Options();
  options.max_reported_problems = 3;
  const std::string message(
      CheckAndConvertParameters(TensorMap{}, expected, options).status().message());
  EXPECT_THAT(message, HasSubstr(absl::StrCat("... and ", expected.size() - 3, " more")));
}

TEST(ParameterCheckTest, IntegerTensorIsNotConvertedToFloatingPoint) {
  const ExpectedParameters expected = {{"w", {.shape = {2}, .dtype = at::kFloat}}};
  const absl::Status status =
      CheckAndConvertParameters({{"w", at::ones({2}, at::kLong)}}, expected, Options()).status();
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tensor 'w' is Long and cannot be converted to Float"));
}

TEST(ParameterCheckTest, MatchingIntegerTensorsPassUnchanged) {
  const ExpectedParameters expected = {{"ids", {.shape = {3}, .dtype = at::kLong}}};
  const at::Tensor ids = at::arange(3, at::kLong);
  absl::StatusOr<TensorMap> checked =
      CheckAndConvertParameters({{"ids", ids}}, expected, Options());
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_TRUE(checked->at("ids").is_same(ids));  // no copy when the dtype already matches
}

TEST(ParameterCheckTest, IgnoredSuffixesAreDroppedSilently) {
  const ExpectedParameters expected = {{"w", {.shape = {2}}}};
  ParameterCheckOptions options = Options();
  options.ignored_suffixes = {"rotary_emb.inv_freq"};
  absl::StatusOr<TensorMap> checked = CheckAndConvertParameters(
      {{"w", at::ones({2})}, {"model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({4})}},
      expected, options);
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->size(), 1u);
}

TEST(HfLlamaParametersTest, ParameterCountMatchesModelConfig) {
  for (bool tied : {false, true}) {
    model::ModelConfig config = TinyConfig();
    config.tie_word_embeddings = tied;
    int64_t total = 0;
    for (const auto& [name, parameter] : HfLlamaParameters(config, at::kFloat)) {
      int64_t numel = 1;
      for (int64_t dim : parameter.shape) numel *= dim;
      total += numel;
    }
    EXPECT_EQ(total, config.ParameterCount()) << "tied=" << tied;
  }
}

TEST(HfLlamaParametersTest, GroupedQueryAttentionShrinksKeyAndValueProjections) {
  const ExpectedParameters expected = HfLlamaParameters(TinyConfig(), at::kBFloat16);
  EXPECT_EQ(expected.at("model.layers.1.self_attn.k_proj.weight").shape,
            (std::vector<int64_t>{64, 128}));  // 2 kv heads × head_dim 32
  EXPECT_EQ(expected.at("model.layers.1.self_attn.o_proj.weight").shape,
            (std::vector<int64_t>{128, 128}));
  EXPECT_EQ(expected.at("model.embed_tokens.weight").dtype, at::kBFloat16);
  EXPECT_TRUE(expected.contains("lm_head.weight"));
  model::ModelConfig tied = TinyConfig();
  tied.tie_word_embeddings = true;
  EXPECT_FALSE(HfLlamaParameters(tied, at::kFloat).contains("lm_head.weight"));
}

}  // namespace
}  // namespace plumb::checkpoint
