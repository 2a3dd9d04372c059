#include "common/model/continuous_batch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>
#include <map>

#include "common/model/sampling_test_model.h"

namespace plumb::model {
namespace {

using ::testing::HasSubstr;

// What Sample gives one sequence alone (the reference for the batch).
SampledSequence Alone(TransformerImpl& model, const BatchSequence& s) {
  SamplingOptions options = s.options;
  options.num_samples = s.sample_index + 1;
  absl::StatusOr<std::vector<SampledSequence>> all = Sample(model, {s.prompt}, options);
  EXPECT_TRUE(all.ok()) << all.status();
  return (*all)[s.sample_index];
}

void ExpectSame(const SampledSequence& got, const SampledSequence& want, uint64_t tag) {
  EXPECT_EQ(got.tokens, want.tokens) << "tag " << tag;
  EXPECT_EQ(got.finish_reason, want.finish_reason) << "tag " << tag;
  ASSERT_EQ(got.logprobs.size(), want.logprobs.size());
  for (size_t t = 0; t < got.logprobs.size(); ++t) {
    EXPECT_NEAR(got.logprobs[t], want.logprobs[t], 1e-4) << "tag " << tag << " token " << t;
  }
}

// Sequences joining a running batch at different steps, with different prompts (one longer
// than the cache in use), sampling options and lengths, each get exactly what they get alone.
TEST(ContinuousBatchTest, SequencesJoiningBetweenStepsGetWhatTheyGetAlone) {
  Transformer model = MakeModel();
  auto make = [](std::vector<int64_t> prompt, double temperature, int64_t max_new, uint64_t seed,
                 int64_t sample, uint64_t tag) {
    BatchSequence s;
    s.prompt = std::move(prompt);
    s.options.temperature = temperature;
    s.options.max_new_tokens = max_new;
    s.options.seed = seed;
    s.options.top_k = temperature > 0 ? 20 : 0;
    s.sample_index = sample;
    s.tag = tag;
    return s;
  };
  std::vector<BatchSequence> first = {make({1, 2, 3}, 0.9, 10, 7, 0, 1),
                                      make({1, 2, 3}, 0.9, 10, 7, 1, 2)};
  std::vector<BatchSequence> second = {make({4, 5, 6, 7, 8, 9, 10, 11, 12}, 0, 6, 1, 0, 3),
                                       make({9}, 1.3, 12, 5, 0, 4)};
  BatchSequence third = make({20, 21}, 0.7, 5, 11, 2, 5);
  third.options.min_new_tokens = 3;
  third.options.top_p = 0.9;
  third.options.stop_token_ids = {Alone(*model, make({20, 21}, 0, 1, 0, 0, 0)).tokens[0]};

  ContinuousBatch batch(*model, /*slots=*/4, /*capacity=*/40);
  std::map<uint64_t, SampledSequence> results;
  auto step = [&] {
    absl::StatusOr<std::vector<FinishedSequence>> done = batch.Step();
    ASSERT_TRUE(done.ok()) << done.status();
    for (FinishedSequence& f : *done) results[f.tag] = std::move(f.result);
  };
  ASSERT_TRUE(batch.Add(first).ok());
  step();
  step();
  ASSERT_TRUE(batch.Fits(2, 9, 12));
  ASSERT_TRUE(batch.Add(second).ok());  // the 9-token prompt is longer than the 5 positions used
  EXPECT_EQ(batch.active(), 4);
  EXPECT_FALSE(batch.Fits(1, 2, 5));  // every row is taken
  // The third joins as soon as a row frees up (the 6-token sequence ends first).
  int steps = 0;
  while (!batch.Fits(1, 2, 5) && steps < 20) {
    step();
    ++steps;
  }
  EXPECT_EQ(steps, 6);
  EXPECT_EQ(results.size(), 1u);
  ASSERT_TRUE(batch.Add({third}).ok());
  while (!batch.empty()) step();
  std::vector<BatchSequence> all = first;
  all.insert(all.end(), second.begin(), second.end());
  all.push_back(third);
  ASSERT_EQ(results.size(), all.size());
  for (const BatchSequence& s : all) ExpectSame(results.at(s.tag), Alone(*model, s), s.tag);
  EXPECT_GE(results.at(5).tokens.size(), 3u);
}

// A caller's stop rule ends a sequence at the token it accepts (not before min_new_tokens), in
// as many steps as tokens: the sequence stops decoding there, with the tokens it has alone.
TEST(ContinuousBatchTest, AStopRuleEndsTheSequenceAtTheTokenItAccepts) {
  Transformer model = MakeModel();
  BatchSequence s;
  s.prompt = {1, 2, 3};
  s.options.temperature = 0.8;
  s.options.max_new_tokens = 12;
  s.options.seed = 3;  // no stop tokens: 12 tokens alone
  const SampledSequence alone = Alone(*model, s);
  ASSERT_EQ(alone.tokens.size(), 12u);
  for (const int64_t min_new : {0, 6}) {
    SCOPED_TRACE(min_new);
    s.options.min_new_tokens = min_new;
    int asked = 0;
    s.stop_after = [&asked](const std::vector<int64_t>& tokens) {
      ++asked;
      return tokens.size() >= 4;
    };
    ContinuousBatch batch(*model, /*slots=*/1, /*capacity=*/16);
    ASSERT_TRUE(batch.Add({s}).ok());
    int steps = 0;
    std::vector<FinishedSequence> done;
    while (!batch.empty() && steps < 20) {
      absl::StatusOr<std::vector<FinishedSequence>> step = batch.Step();
      ASSERT_TRUE(step.ok()) << step.status();
      for (FinishedSequence& f : *step) done.push_back(std::move(f));
      ++steps;
    }
    const size_t expected = min_new == 0 ? 4 : 6;
    ASSERT_EQ(done.size(), 1u);
    EXPECT_EQ(steps, static_cast<int>(expected));
    EXPECT_EQ(done[0].result.finish_reason, FinishReason::kStop);
    EXPECT_EQ(done[0].result.tokens,
              std::vector<int64_t>(alone.tokens.begin(), alone.tokens.begin() + expected));
    // Asked from the first token (or the min_new_tokens-th) on, once per token.
    EXPECT_EQ(asked, min_new == 0 ? 4 : 1);
  }
}

TEST(ContinuousBatchTest, CapacityAndDroppedRows) {
  Transformer model = MakeModel();
  ContinuousBatch batch(*model, /*slots=*/2, /*capacity=*/12);
  BatchSequence s;
  s.prompt = {1, 2, 3, 4};
  s.options.max_new_tokens = 8;
  s.tag = 1;
  EXPECT_FALSE(batch.Fits(1, 5, 8));  // 5 + 8 > 12
  absl::Status too_long = batch.Add({s, s, s});
  EXPECT_THAT(std::string(too_long.message()), HasSubstr("do not fit"));
  ASSERT_TRUE(batch.Add({s}).ok());
  Transformer other = MakeModel();
  EXPECT_EQ(batch.Rebind(*other).code(), absl::StatusCode::kFailedPrecondition);  // not empty
  ASSERT_TRUE(batch.Step().ok());
  // A row still decoding needs its remaining positions: a new 8-token request no longer fits.
  EXPECT_FALSE(batch.Fits(1, 4, 8));
  s.tag = 2;
  s.options.max_new_tokens = 2;
  ASSERT_TRUE(batch.Add({s}).ok());
  batch.Drop([](uint64_t tag) { return tag == 1; });
  EXPECT_EQ(batch.active(), 1);
  absl::StatusOr<std::vector<FinishedSequence>> done = batch.Step();
  ASSERT_TRUE(done.ok());
  done = batch.Step();
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ((*done)[0].tag, 2u);
  EXPECT_TRUE(batch.empty());
  // An empty batch starts over: the whole capacity is free again, and it may take new weights.
  EXPECT_TRUE(batch.Fits(2, 4, 8));
  EXPECT_TRUE(batch.Rebind(*other).ok());
  s.prompt = {70};
  EXPECT_THAT(std::string(batch.Add({s}).message()), HasSubstr("outside the vocabulary"));
}

}  // namespace
}  // namespace plumb::model

namespace plumb::model {
namespace {

// A corrupt embedding row makes the logits of sequences that read that token NaN. Before, the
// whole batch failed (or sampled token id -1); now that sequence fails alone and the others get
// exactly what they get alone.
TEST(ContinuousBatchTest, ASequenceWithNonFiniteLogitsFailsAloneAndTheOthersGoOn) {
  Transformer model = MakeModel();
  {
    torch::NoGradGuard no_grad;
    model->embed_tokens()[7].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  auto make = [](std::vector<int64_t> prompt, uint64_t tag) {
    BatchSequence s;
    s.prompt = std::move(prompt);
    s.options.temperature = 0.8;
    s.options.max_new_tokens = 6;
    s.options.seed = 5;
    s.tag = tag;
    return s;
  };
  const BatchSequence healthy = make({1, 2, 3}, 1);
  const BatchSequence poisoned = make({4, 7, 5}, 2);
  ContinuousBatch batch(*model, /*slots=*/4, /*capacity=*/40);
  ASSERT_TRUE(batch.Add({healthy, poisoned}).ok());
  std::map<uint64_t, FinishedSequence> results;
  for (int step = 0; step < 10 && !batch.empty(); ++step) {
    absl::StatusOr<std::vector<FinishedSequence>> done = batch.Step();
    ASSERT_TRUE(done.ok()) << done.status();
    for (FinishedSequence& f : *done) results[f.tag] = std::move(f);
  }
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[2].error.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(results[2].error.message()), HasSubstr("not finite"));
  ASSERT_TRUE(results[1].error.ok()) << results[1].error;
  ExpectSame(results[1].result, Alone(*model, healthy), 1);
}

// Sample runs on the batch: a prompt whose logits go non-finite fails the call, naming it.
TEST(SamplerTest, NonFiniteLogitsFailTheCallNamingThePromptAndSample) {
  Transformer model = MakeModel();
  {
    torch::NoGradGuard no_grad;
    model->embed_tokens()[7].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  SamplingOptions options;
  options.max_new_tokens = 4;
  options.num_samples = 2;
  absl::StatusOr<std::vector<SampledSequence>> sampled = Sample(*model, {{1, 2}, {4, 7}}, options);
  EXPECT_EQ(sampled.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(sampled.status().message()), HasSubstr("prompt 1, sample 0"));
  EXPECT_THAT(std::string(sampled.status().message()), HasSubstr("not finite"));
}

TEST(SamplerTest, TemperaturesBelowTheFloorAreRefusedNotOverflowed) {
  Transformer model = MakeModel();
  SamplingOptions options;
  options.max_new_tokens = 8;
  options.temperature = 1e-45;
  absl::StatusOr<std::vector<SampledSequence>> sampled = Sample(*model, {{1, 2}}, options);
  EXPECT_EQ(sampled.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(sampled.status().message()), HasSubstr("use 0 for greedy"));
  options.temperature = kMinTemperature;
  sampled = Sample(*model, {{1, 2}}, options);
  EXPECT_TRUE(sampled.ok()) << sampled.status();
}

}  // namespace
}  // namespace plumb::model
