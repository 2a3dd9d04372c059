#include "common/model/sampler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "common/model/cpu_decode.h"
#include "common/model/logprobs.h"
#include "common/model/sampling_test_model.h"

namespace plumb::model {
namespace {

using ::testing::HasSubstr;

const std::vector<std::vector<int64_t>> kPrompts = {{1, 2, 3}, {4, 5, 6, 7, 8, 9}, {10}};

TEST(SamplerTest, KvCacheSamplingEqualsRecomputingTheWholeSequence) {
  Transformer model = MakeModel();
  for (double temperature : {0.0, 1.0}) {
    SamplingOptions options;
    options.temperature = temperature;
    options.max_new_tokens = 12;
    options.num_samples = 2;
    options.seed = 42;
    auto cached = Sample(*model, kPrompts, options);
    options.use_kv_cache = false;
    auto recomputed = Sample(*model, kPrompts, options);
    ASSERT_TRUE(cached.ok() && recomputed.ok());
    ASSERT_EQ(cached->size(), 6u);
    for (size_t i = 0; i < cached->size(); ++i) {
      EXPECT_EQ((*cached)[i].tokens, (*recomputed)[i].tokens)
          << "row " << i << " T " << temperature;
      for (size_t t = 0; t < (*cached)[i].logprobs.size(); ++t) {
        EXPECT_NEAR((*cached)[i].logprobs[t], (*recomputed)[i].logprobs[t], 1e-4);
      }
    }
  }
}

TEST(SamplerTest, BatchedPromptsOfDifferentLengthsMatchSamplingEachAlone) {
  Transformer model = MakeModel();
  SamplingOptions options;
  options.max_new_tokens = 10;
  options.num_samples = 3;
  options.seed = 7;
  options.top_k = 20;
  options.top_p = 0.9;
  auto batched = Sample(*model, kPrompts, options);
  ASSERT_TRUE(batched.ok());
  for (size_t p = 0; p < kPrompts.size(); ++p) {
    auto alone = Sample(*model, {kPrompts[p]}, options);
    ASSERT_TRUE(alone.ok());
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_EQ((*alone)[k].tokens, (*batched)[p * 3 + k].tokens) << p << "/" << k;
      EXPECT_EQ((*alone)[k].prompt_index, 0);
      EXPECT_EQ((*batched)[p * 3 + k].prompt_index, static_cast<int64_t>(p));
    }
  }
}

TEST(SamplerTest, PerPromptSeedsGiveEachPromptWhatItsSeedGivesAlone) {
  Transformer model = MakeModel();
  SamplingOptions options;
  options.max_new_tokens = 10;
  options.num_samples = 2;
  options.prompt_seeds = {11, 22, 33};
  ASSERT_EQ(kPrompts.size(), 3u);
  auto batched = Sample(*model, kPrompts, options);
  ASSERT_TRUE(batched.ok()) << batched.status();
  for (size_t p = 0; p < kPrompts.size(); ++p) {
    SamplingOptions alone_options = options;
    alone_options.prompt_seeds.clear();
    alone_options.seed = options.prompt_seeds[p];
    auto alone = Sample(*model, {kPrompts[p]}, alone_options);
    ASSERT_TRUE(alone.ok());
    for (int64_t k = 0; k < 2; ++k) {
      EXPECT_EQ((*alone)[k].tokens, (*batched)[p * 2 + k].tokens) << p << "/" << k;
    }
  }
  options.prompt_seeds = {1, 2};
  EXPECT_FALSE(Sample(*model, kPrompts, options).ok());
}

TEST(SamplerTest, SeedMakesSamplingReproducibleAndDifferentSeedsDiffer) {
  Transformer model = MakeModel();
  SamplingOptions options;
  options.max_new_tokens = 16;
  options.seed = 1;
  auto a = Sample(*model, kPrompts, options);
  auto b = Sample(*model, kPrompts, options);
  options.seed = 2;
  auto c = Sample(*model, kPrompts, options);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  int differ = 0;
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].tokens, (*b)[i].tokens);
    differ += (*a)[i].tokens != (*c)[i].tokens;
  }
  EXPECT_GT(differ, 0);
}

TEST(SamplerTest, ReturnedLogProbsEqualTeacherForcedLogProbs) {
  Transformer model = MakeModel();
  SamplingOptions options;
  options.max_new_tokens = 8;
  options.temperature = 0.7;
  options.seed = 5;
  auto samples = Sample(*model, kPrompts, options);
  ASSERT_TRUE(samples.ok());
  std::vector<std::vector<int64_t>> responses;
  for (const auto& s : *samples) responses.push_back(s.tokens);
  torch::NoGradGuard no_grad;
  auto scored = ScoreResponses(*model, kPrompts, responses, 0.7);
  ASSERT_TRUE(scored.ok()) << scored.status();
  for (size_t i = 0; i < samples->size(); ++i) {
    for (size_t t = 0; t < (*samples)[i].logprobs.size(); ++t) {
      EXPECT_NEAR((*samples)[i].logprobs[t], scored->logprobs[i][t].item<float>(), 1e-4);
    }
  }
}

TEST(SamplerTest, TopKOneIsGreedyAndStopTokensEndRows) {
  Transformer model = MakeModel();
  SamplingOptions greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = 6;
  auto expected = Sample(*model, kPrompts, greedy);
  SamplingOptions top1 = greedy;
  top1.temperature = 1.3;
  top1.top_k = 1;
  top1.seed = 99;
  auto got = Sample(*model, kPrompts, top1);
  ASSERT_TRUE(expected.ok() && got.ok());
  for (size_t i = 0; i < got->size(); ++i) EXPECT_EQ((*got)[i].tokens, (*expected)[i].tokens);

  SamplingOptions stopping = greedy;
  stopping.stop_token_ids = {(*expected)[0].tokens[2]};
  auto stopped = Sample(*model, kPrompts, stopping);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ((*stopped)[0].finish_reason, FinishReason::kStop);
  EXPECT_LE((*stopped)[0].tokens.size(), 3u);
  EXPECT_EQ((*stopped)[0].tokens.back(), stopping.stop_token_ids[0]);
}

TEST(SamplerTest, MinNewTokensKeepsStopTokensOutAndReportsFullDistributionLogProbs) {
  Transformer model = MakeModel();
  SamplingOptions greedy;
  greedy.temperature = 0;
  greedy.max_new_tokens = 6;
  auto free_run = Sample(*model, kPrompts, greedy);
  ASSERT_TRUE(free_run.ok());
  // The greedy first token of every prompt is a stop token: without a minimum each row ends at
  // once; with min_new_tokens = 4 no row may stop before its 4th token.
  SamplingOptions stopping = greedy;
  for (const SampledSequence& s : *free_run) stopping.stop_token_ids.push_back(s.tokens[0]);
  auto stopped = Sample(*model, kPrompts, stopping);
  ASSERT_TRUE(stopped.ok());
  for (const SampledSequence& s : *stopped) EXPECT_EQ(s.tokens.size(), 1u);
  SamplingOptions at_least = stopping;
  at_least.min_new_tokens = 4;
  at_least.temperature = 0.8;
  at_least.seed = 3;
  auto held = Sample(*model, kPrompts, at_least);
  ASSERT_TRUE(held.ok()) << held.status();
  std::vector<std::vector<int64_t>> responses;
  for (const SampledSequence& s : *held) {
    ASSERT_GE(s.tokens.size(), 4u);
    for (size_t t = 0; t < 3; ++t) {
      EXPECT_EQ(
          std::count(stopping.stop_token_ids.begin(), stopping.stop_token_ids.end(), s.tokens[t]),
          0)
          << "a stop token at position " << t;
    }
    responses.push_back(s.tokens);
  }
  // The log-probs are the tokens' under the model's full distribution (what the learner
  // recomputes), not under the distribution with the stop tokens removed.
  torch::NoGradGuard no_grad;
  auto scored = ScoreResponses(*model, kPrompts, responses, 0.8);
  ASSERT_TRUE(scored.ok());
  for (size_t i = 0; i < held->size(); ++i) {
    for (size_t t = 0; t < (*held)[i].logprobs.size(); ++t) {
      EXPECT_NEAR((*held)[i].logprobs[t], scored->logprobs[i][t].item<float>(), 1e-4);
    }
  }
  at_least.min_new_tokens = 7;
  EXPECT_THAT(std::string(Sample(*model, kPrompts, at_least).status().message()),
              HasSubstr("min_new_tokens 7 is outside [0, max_new_tokens = 6]"));
}

TEST(SamplerTest, BadRequestsAreRefusedWithAReason) {
  Transformer model = MakeModel();
  SamplingOptions options;
  options.max_new_tokens = 4;
  EXPECT_THAT(std::string(Sample(*model, {{1, 50}}, options).status().message()),
              HasSubstr("prompt 0, position 1: token id 50 is outside the vocabulary [0, 50)"));
  EXPECT_THAT(std::string(Sample(*model, {{1}, {}}, options).status().message()),
              HasSubstr("prompt 1 is empty"));
  options.max_new_tokens = 64;
  EXPECT_THAT(std::string(Sample(*model, {{1, 2}}, options).status().message()),
              HasSubstr("2 tokens + max_new_tokens 64 = 66 exceeds the context of 64"));
  options.max_new_tokens = 4;
  options.top_p = 0;
  EXPECT_THAT(std::string(Sample(*model, {{1}}, options).status().message()),
              HasSubstr("top_p must be in (0, 1]"));
  options.top_p = 1;
  options.temperature = std::nan("");
  EXPECT_THAT(std::string(Sample(*model, {{1}}, options).status().message()),
              HasSubstr("temperature must be a finite number >= 0"));
}

TEST(SamplerTest, CpuAndTensorSamplingRulesPickTheSameTokens) {
  torch::manual_seed(12);
  const at::Tensor logits = torch::randn({16, 300}) * 3;
  std::vector<double> u;
  for (int64_t r = 0; r < 16; ++r) u.push_back(SamplingUniform(4, r, 0, 0));
  for (auto [top_k, top_p] :
       std::vector<std::pair<int64_t, double>>{{0, 1.0}, {5, 1.0}, {0, 0.7}, {40, 0.9}, {1, 1.0}}) {
    SamplingOptions options;
    options.top_k = top_k;
    options.top_p = top_p;
    std::vector<int64_t> cpu_tokens, tensor_tokens;
    std::vector<float> cpu_logprobs, tensor_logprobs;
    SampleRowsCpu(logits, false, top_k, top_p, u, &cpu_tokens, &cpu_logprobs);
    SampleRowsTensor(logits, options, u, &tensor_tokens, &tensor_logprobs);
    EXPECT_EQ(cpu_tokens, tensor_tokens) << top_k << " " << top_p;
    for (size_t i = 0; i < cpu_logprobs.size(); ++i) {
      EXPECT_NEAR(cpu_logprobs[i], tensor_logprobs[i], 1e-5);
    }
    if (top_k == 1) {
      EXPECT_TRUE(at::equal(torch::tensor(cpu_tokens), logits.argmax(-1)));
    }
  }
}

TEST(SamplerTest, FusedCpuDecodeStepMatchesTheGeneralCachedForward) {
  for (auto dtype : {torch::kFloat, torch::kBFloat16}) {
    torch::manual_seed(21);
    Transformer model(SmallConfig());
    model->to(dtype);
    model->eval();
    torch::NoGradGuard no_grad;
    // Left-padded prompts, as Sample builds them.
    const at::Tensor ids = torch::tensor({{0, 0, 5, 6}, {7, 8, 9, 10}});
    const at::Tensor mask = torch::tensor({{0, 0, 1, 1}, {1, 1, 1, 1}});
    KvCache fused = model->NewCache(2, 8);
    KvCache general = model->NewCache(2, 8);
    model->Forward(ids, mask, {}, &fused);
    model->Forward(ids, mask, {}, &general);
    const at::Tensor next = torch::tensor({11, 12});
    const at::Tensor a = DecodeStepCpu(*model, next, &fused).to(torch::kFloat);
    const at::Tensor b = model->Forward(next.unsqueeze(-1), torch::ones({2, 1}), {}, &general)
                             .select(1, 0)
                             .to(torch::kFloat);
    const double tolerance = dtype == torch::kFloat ? 1e-5 : 5e-2;
    EXPECT_LT((a - b).abs().max().item<double>(), tolerance) << dtype;
    EXPECT_EQ(fused.length, general.length);
    EXPECT_TRUE(at::equal(fused.key_valid, general.key_valid));
  }
}

TEST(SamplerTest, UniformsAreIndependentOfBatchComposition) {
  EXPECT_EQ(PromptKey({1, 2}), PromptKey({1, 2}));
  EXPECT_NE(PromptKey({1, 2}), PromptKey({2, 1}));
  EXPECT_EQ(SamplingUniform(1, 2, 3, 4), SamplingUniform(1, 2, 3, 4));
  EXPECT_NE(SamplingUniform(1, 2, 3, 4), SamplingUniform(1, 2, 3, 5));
  double sum = 0;
  for (int i = 0; i < 10000; ++i) sum += SamplingUniform(9, i, 0, 0);
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

}  // namespace
}  // namespace plumb::model
