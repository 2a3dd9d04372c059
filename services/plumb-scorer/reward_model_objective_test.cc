// The reward_model objective through the Scorer: scores equal the reward head read directly,
// batching changes nothing, and weights can be swapped at run time through the objective's
// VersionedModel (the path every LoadWeights stream ends in).
#include "services/plumb-scorer/reward_model_objective.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "common/model/hf_checkpoint.h"
#include "services/plumb-scorer/scorer.h"
#include "services/plumb-scorer/scorer_test_util.h"

namespace plumb::scorer {
namespace {

class RewardModelObjectiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshDir("rm");
    testing::WriteTinyRewardModel(dir_, 7);
  }

  ScorerOptions Options(int max_batch_size = 32, int output = 1, bool sigmoid = false) const {
    ObjectiveOptions rm{
        .name = "rm",
        .kind = RewardModelObjectiveKind(),
        .kind_options =
            RewardModelScorerOptions{.path = dir_.string(), .output = output, .sigmoid = sigmoid},
        .tokenizer = "byte"};
    ScorerOptions options;
    options.max_batch_size = max_batch_size;
    options.objectives = {rm};
    options.composition.weights = {{"rm", 1.0}};
    return options;
  }

  std::unique_ptr<Scorer> Make(const ScorerOptions& options) const {
    absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(options);
    EXPECT_TRUE(scorer.ok()) << scorer.status();
    return scorer.ok() ? *std::move(scorer) : nullptr;
  }

  model::Transformer Loaded() const {
    absl::StatusOr<model::Transformer> model = model::LoadHfModel(dir_);
    EXPECT_TRUE(model.ok()) << model.status();
    return *model;
  }

  std::filesystem::path dir_;
};

ScoreInput Item(std::string id, std::vector<int32_t> prompt, std::vector<int32_t> response) {
  return ScoreInput{
      .id = std::move(id), .prompt_ids = std::move(prompt), .response_ids = std::move(response)};
}

std::vector<ScoreInput> VariedItems() {
  std::vector<ScoreInput> items;
  for (int i = 0; i < 7; ++i) {
    std::vector<int32_t> prompt, response;
    for (int t = 0; t < 1 + i % 3; ++t) prompt.push_back(10 + 13 * i + t);
    for (int t = 0; t < 1 + (5 * i) % 7; ++t) response.push_back(100 + 11 * i + 3 * t);
    items.push_back(Item("i" + std::to_string(i), prompt, response));
  }
  return items;
}

std::vector<int64_t> Sequence(const ScoreInput& item) {
  std::vector<int64_t> ids(item.prompt_ids.begin(), item.prompt_ids.end());
  ids.insert(ids.end(), item.response_ids.begin(), item.response_ids.end());
  return ids;
}

TEST_F(RewardModelObjectiveTest, ScoreIsTheRewardHeadAtTheLastToken) {
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  model::Transformer model = Loaded();
  const std::vector<ScoreInput> items = VariedItems();
  absl::StatusOr<std::vector<ScoreOutput>> out = scorer->Score(items);
  ASSERT_TRUE(out.ok()) << out.status();
  for (size_t i = 0; i < items.size(); ++i) {
    const double direct = testing::DirectReward(model, Sequence(items[i]), 1);
    EXPECT_NEAR(*(*out)[i].score("rm"), direct, 1e-5) << i;
    EXPECT_NEAR(*(*out)[i].reward, direct, 1e-5) << i;
  }
}

// A model whose config.json says "plumb_reward_readout": "response_mean" scores the mean of the
// reward head over the response's tokens, and says so in its description.
TEST_F(RewardModelObjectiveTest, AResponseMeanModelScoresTheMeanOverTheResponsesTokens) {
  model::Transformer written = Loaded();
  model::ModelConfig config = written->config();
  config.reward_readout = model::RewardReadout::kResponseMean;
  model::Transformer mean_model(config);
  {
    torch::NoGradGuard no_grad;
    const auto from = written->named_parameters();
    for (auto& p : mean_model->named_parameters()) p.value().copy_(from[p.key()]);
  }
  ASSERT_TRUE(model::SaveHfModel(*mean_model, dir_).ok());
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  const std::vector<ScoreInput> items = VariedItems();
  absl::StatusOr<std::vector<ScoreOutput>> out = scorer->Score(items);
  ASSERT_TRUE(out.ok()) << out.status();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < items.size(); ++i) {
    const at::Tensor ids = torch::tensor(Sequence(items[i]), torch::kLong).unsqueeze(0);
    const at::Tensor hidden = mean_model->Forward(ids, torch::ones_like(ids))[0];
    const int64_t p = items[i].prompt_ids.size();
    const double want = mean_model->Rewards(hidden.slice(0, p)).select(1, 1).mean().item<double>();
    EXPECT_NEAR(*(*out)[i].score("rm"), want, 1e-5) << i;
    if (items[i].response_ids.size() > 1) {  // one token: its mean is the last token
      EXPECT_GT(std::abs(want - testing::DirectReward(mean_model, Sequence(items[i]), 1)), 1e-6)
          << "the last token alone gives the same score: the test could not tell them apart";
    }
  }
  const std::vector<ObjectiveDescription> described = scorer->Describe();
  ASSERT_EQ(described.size(), 1u);
  EXPECT_THAT(described[0].description, ::testing::HasSubstr("averaged over the response"));
  ASSERT_TRUE(described[0].model.has_value());
  EXPECT_EQ(described[0].model->architecture, "llama/reward_readout=response_mean");
}

TEST_F(RewardModelObjectiveTest, BatchedScoresEqualOneByOne) {
  std::unique_ptr<Scorer> batched = Make(Options(/*max_batch_size=*/3));
  std::unique_ptr<Scorer> single = Make(Options(/*max_batch_size=*/1));
  ASSERT_NE(batched, nullptr);
  ASSERT_NE(single, nullptr);
  const std::vector<ScoreInput> items = VariedItems();
  absl::StatusOr<std::vector<ScoreOutput>> all = batched->Score(items);
  ASSERT_TRUE(all.ok()) << all.status();
  for (size_t i = 0; i < items.size(); ++i) {
    absl::StatusOr<std::vector<ScoreOutput>> one = single->Score({items[i]});
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_EQ((*all)[i].id, items[i].id);
    EXPECT_NEAR(*(*all)[i].score("rm"), *(*one)[0].score("rm"), 1e-5) << i;
  }
}

TEST_F(RewardModelObjectiveTest, SigmoidMapsTheRawScoreToAProbability) {
  std::unique_ptr<Scorer> raw = Make(Options(32, 0, false));
  std::unique_ptr<Scorer> probability = Make(Options(32, 0, true));
  ASSERT_NE(raw, nullptr);
  ASSERT_NE(probability, nullptr);
  const std::vector<ScoreInput> items = VariedItems();
  absl::StatusOr<std::vector<ScoreOutput>> r = raw->Score(items);
  absl::StatusOr<std::vector<ScoreOutput>> p = probability->Score(items);
  ASSERT_TRUE(r.ok() && p.ok());
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_NEAR(*(*p)[i].score("rm"), 1.0 / (1.0 + std::exp(-*(*r)[i].score("rm"))), 1e-9);
  }
}

// Text follows the common rule (common.proto Prompt.text): BOS + the prompt's tokens, the
// response's tokens without BOS.
TEST_F(RewardModelObjectiveTest, TextIsEncodedWithTheObjectivesTokenizer) {
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  ScoreInput text{.id = "t", .prompt_text = "Hi", .response_text = "there"};
  ScoreInput ids = Item("i", {256, 'H', 'i'}, {'t', 'h', 'e', 'r', 'e'});
  absl::StatusOr<std::vector<ScoreOutput>> out = scorer->Score({text, ids});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NEAR(*(*out)[0].score("rm"), *(*out)[1].score("rm"), 1e-6);
}

TEST_F(RewardModelObjectiveTest, ModelFolderWithoutTokenizerTakesIdsOnly) {
  ScorerOptions options = Options();
  options.objectives[0].tokenizer = "";  // the folder has no tokenizer files
  std::unique_ptr<Scorer> scorer = Make(options);
  ASSERT_NE(scorer, nullptr);
  EXPECT_TRUE(scorer->Score({Item("a", {1}, {2})}).ok());
  ScoreInput text{.id = "t", .prompt_text = "Hi", .response_ids = {5}};
  EXPECT_EQ(scorer->Score({text}).status().message(),
            "items[0].prompt: objective 'rm' reads token ids, but the item has text only and the "
            "objective has no tokenizer (set its `tokenizer`, or send token ids)");
  EXPECT_EQ(scorer->Describe()[0].model->tokenizer, "");
}

TEST_F(RewardModelObjectiveTest, OutputBeyondTheRewardHeadIsRejected) {
  const absl::Status status = Scorer::Create(Options(32, /*output=*/2)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_EQ(status.message(),
            "objective 'rm': output 2 needs a reward head with at least 3 outputs, but " +
                dir_.string() + " has 2 (plumb_num_reward_outputs in config.json)");
}

TEST_F(RewardModelObjectiveTest, SwappedWeightsChangeScoresAndReportTheVersion) {
  ScorerOptions options = Options();
  options.cache_entries = 100;
  std::unique_ptr<Scorer> scorer = Make(options);
  ASSERT_NE(scorer, nullptr);
  const std::vector<ScoreInput> items = VariedItems();
  absl::StatusOr<std::vector<ScoreOutput>> before = scorer->Score(items);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(scorer->Describe()[0].model->version, 0u);
  EXPECT_EQ(scorer->Describe()[0].model->weights_source, dir_.string());

  model::Transformer next = testing::MakeTinyRewardModel(99);
  ASSERT_TRUE(testing::SwapWeights(*scorer, "rm", next, 16, "learner:s1").ok());
  const ObjectiveDescription described = scorer->Describe()[0];
  EXPECT_EQ(described.model->version, 16u);
  EXPECT_EQ(described.model->weights_source, "learner:s1");

  absl::StatusOr<std::vector<ScoreOutput>> after = scorer->Score(items);
  ASSERT_TRUE(after.ok());
  for (size_t i = 0; i < items.size(); ++i) {
    // The cache must not serve the old weights' scores.
    EXPECT_NEAR(*(*after)[i].score("rm"), testing::DirectReward(next, Sequence(items[i]), 1), 1e-5);
    EXPECT_GT(std::abs(*(*after)[i].score("rm") - *(*before)[i].score("rm")), 1e-6);
  }
  EXPECT_EQ(scorer->cache_stats().hits, 0u);
}

// A swap replaces weights, never the model's shape: a reward head with fewer outputs or another
// vocabulary does not fit the objective's model and changes nothing.
TEST_F(RewardModelObjectiveTest, WeightsThatDoNotFitTheModelAreRefused) {
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  model::Transformer one_output = testing::MakeTinyRewardModel(3, /*outputs=*/1);
  absl::Status status = testing::SwapWeights(*scorer, "rm", one_output, 1, "x");
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("score.weight"));
  model::ModelConfig other = testing::TinyRewardConfig();
  other.vocab_size = 300;
  model::Transformer other_vocab(other);
  status = testing::SwapWeights(*scorer, "rm", other_vocab, 1, "x");
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("model.embed_tokens.weight"));
  model::Transformer fits = testing::MakeTinyRewardModel(3);
  EXPECT_EQ(testing::SwapWeights(*scorer, "nope", fits, 1, "x").message(),
            "unknown objective 'nope'; configured objectives: rm");
  EXPECT_EQ(scorer->Describe()[0].model->version, 0u);  // nothing was swapped
}

TEST_F(RewardModelObjectiveTest, NonFiniteScoresAreInternalErrorsNamingTheObjective) {
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  model::Transformer broken = testing::MakeTinyRewardModel(5);
  {
    torch::NoGradGuard no_grad;
    broken->reward_head().fill_(std::numeric_limits<double>::quiet_NaN());
  }
  ASSERT_TRUE(testing::SwapWeights(*scorer, "rm", broken, 2, "test").ok());
  const absl::Status status = scorer->Score({Item("a", {1}, {2}), Item("b", {3}, {4})}).status();
  EXPECT_TRUE(absl::IsInternal(status)) << status;
  EXPECT_EQ(status.message(), "objective 'rm' produced a non-finite score (nan) for items[0]");
}

TEST_F(RewardModelObjectiveTest, ConcurrentScoringAndSwappingGiveScoresOfOneModelOrTheOther) {
  std::unique_ptr<Scorer> scorer = Make(Options(/*max_batch_size=*/2));
  ASSERT_NE(scorer, nullptr);
  model::Transformer first = Loaded();
  model::Transformer second = testing::MakeTinyRewardModel(42);
  const ScoreInput item = Item("a", {1, 2, 3}, {4, 5});
  const double a = testing::DirectReward(first, Sequence(item), 1);
  const double b = testing::DirectReward(second, Sequence(item), 1);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int k = 0; k < 10; ++k) {
        absl::StatusOr<std::vector<ScoreOutput>> out = scorer->Score({item});
        const double s = out.ok() ? *(*out)[0].score("rm") : 1e9;
        if (std::abs(s - a) > 1e-5 && std::abs(s - b) > 1e-5) ++bad;
      }
    });
  }
  for (int k = 0; k < 5; ++k) {
    // Alternate the two weight sets, each swap through the objective's VersionedModel.
    model::Transformer next = k % 2 == 0 ? testing::MakeTinyRewardModel(42) : Loaded();
    ASSERT_TRUE(testing::SwapWeights(*scorer, "rm", next, k + 1, "test").ok());
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace plumb::scorer
