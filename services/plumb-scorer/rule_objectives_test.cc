// The text objectives (afinn, length, format) through their factories.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "services/plumb-scorer/afinn_objective.h"
#include "services/plumb-scorer/objective.h"
#include "services/plumb-scorer/rule_objectives.h"

namespace plumb::scorer {
namespace {

ScoreInput Response(std::string text) {
  ScoreInput item;
  item.id = "x";
  item.prompt_text = "p";
  item.response_text = std::move(text);
  return item;
}

// Scores every item under `objective`; fails the test on an error.
std::vector<double> ScoreAll(const ScoringObjective& objective,
                             const std::vector<ScoreInput>& items) {
  absl::StatusOr<std::unique_ptr<ScoringObjective::Batch>> batch = objective.Prepare(items);
  EXPECT_TRUE(batch.ok()) << batch.status();
  if (!batch.ok()) return {};
  std::vector<size_t> positions;
  for (size_t i = 0; i < items.size(); ++i) positions.push_back(i);
  absl::StatusOr<std::vector<double>> scores = objective.Run(**batch, positions);
  EXPECT_TRUE(scores.ok()) << scores.status();
  return scores.ok() ? *scores : std::vector<double>{};
}

std::unique_ptr<ScoringObjective> Make(const ObjectiveOptions& options) {
  absl::StatusOr<std::unique_ptr<ScoringObjective>> objective = CreateObjective(options, 8);
  EXPECT_TRUE(objective.ok()) << objective.status();
  return objective.ok() ? *std::move(objective) : nullptr;
}

TEST(LengthObjectiveTest, ScoreIsMinusTheDistanceInCodePointsOverScale) {
  ObjectiveOptions options{.name = "brevity", .kind = LengthObjectiveKind()};
  options.kind_options = LengthOptions{.target_chars = 4, .scale = 2.0};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  EXPECT_EQ(ScoreAll(*objective, {Response("abcd"), Response("ab"), Response("abcdefgh"),
                                  Response("naïve"), Response("")}),
            (std::vector<double>{0.0, -1.0, -2.0, -0.5, -2.0}));
  EXPECT_EQ(objective->Describe().description, "length rule: -|characters - 4| / 2");
}

TEST(FormatObjectiveTest, WholeResponseMustMatchThePattern) {
  ObjectiveOptions options{.name = "fmt", .kind = FormatObjectiveKind()};
  options.kind_options =
      FormatOptions{.pattern = "(?s)Answer: \\d+\\.?", .score_match = 2.0, .score_miss = -1.0};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  EXPECT_EQ(ScoreAll(*objective, {Response("Answer: 42."), Response("Answer: 42 and more"),
                                  Response("The Answer: 42"), Response("")}),
            (std::vector<double>{2.0, -1.0, -1.0, -1.0}));
}

TEST(FormatObjectiveTest, CatastrophicBacktrackingIsAMissWithinTheRegexBudget) {
  ObjectiveOptions options{.name = "fmt", .kind = FormatObjectiveKind()};
  options.kind_options = FormatOptions{.pattern = "(a+)+$", .score_match = 1.0, .score_miss = -1.0};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ScoreAll(*objective, {Response(std::string(40, 'a') + "!"), Response("aaa")}),
            (std::vector<double>{-1.0, 1.0}));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

TEST(FormatObjectiveTest, InvalidPatternIsRejectedNamingTheObjective) {
  ObjectiveOptions options{.name = "fmt", .kind = FormatObjectiveKind()};
  options.kind_options = FormatOptions{.pattern = "(unclosed"};
  EXPECT_EQ(CreateObjective(options, 8).status().message(),
            "objective 'fmt': pattern '(unclosed' is not a valid ICU regular expression "
            "(U_REGEX_MISMATCHED_PAREN at offset 9)");
}

TEST(AfinnObjectiveTest, MeanIsPerMatchedWordAndSumAddsThemUp) {
  ObjectiveOptions options{.name = "sentiment", .kind = AfinnObjectiveKind()};
  std::unique_ptr<ScoringObjective> mean = Make(options);
  options.kind_options = AfinnOptions{.reduce = AfinnReduce::kSum};
  std::unique_ptr<ScoringObjective> sum = Make(options);
  ASSERT_NE(mean, nullptr);
  ASSERT_NE(sum, nullptr);
  const std::vector<ScoreInput> items = {Response("good and happy, not bad"),
                                         Response("plain table")};
  // good 3, happy 3, bad -3 ("not bad" is no entry; "not" is no entry either).
  EXPECT_EQ(ScoreAll(*mean, items), (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(ScoreAll(*sum, items), (std::vector<double>{3.0, 0.0}));
  EXPECT_EQ(mean->Describe().kind, "afinn");
}

// The response alone cannot express the valence a continuation adds: "I feel so hap" + "py"
// completes a word across the boundary, "It was good" + "bye" spoils one.
TEST(AfinnObjectiveTest, PromptAndResponseDeltaScoresWhatTheResponseAdds) {
  auto item = [](std::string prompt, std::string response) {
    ScoreInput input;
    input.id = "x";
    input.prompt_text = std::move(prompt);
    input.response_text = std::move(response);
    return input;
  };
  const std::vector<ScoreInput> items = {item("I feel so hap", "py today"),
                                         item("It was good", "bye"), item("What a good", "ness"),
                                         item("so", " hapless and bad")};
  ObjectiveOptions options{.name = "sentiment", .kind = AfinnObjectiveKind()};
  std::unique_ptr<ScoringObjective> response_only = Make(options);
  options.kind_options = AfinnOptions{.context = AfinnContext::kPromptAndResponseDelta};
  std::unique_ptr<ScoringObjective> mean = Make(options);
  KindOptionsAs<AfinnOptions>(options)->reduce = AfinnReduce::kSum;
  std::unique_ptr<ScoringObjective> sum = Make(options);
  ASSERT_NE(response_only, nullptr);
  ASSERT_NE(mean, nullptr);
  ASSERT_NE(sum, nullptr);
  EXPECT_EQ(ScoreAll(*response_only, items), (std::vector<double>{0.0, 0.0, 0.0, -2.5}));
  EXPECT_EQ(ScoreAll(*mean, items), (std::vector<double>{3.0, -3.0, 0.0, -2.5}));
  EXPECT_EQ(ScoreAll(*sum, items), (std::vector<double>{3.0, -3.0, 0.0, -5.0}));
  EXPECT_NE(mean->Describe().description.find("adds to the prompt"), std::string::npos);
}

TEST(TextObjectiveTest, IdsOnlyResponsesAreDecodedWithTheTokenizer) {
  ObjectiveOptions options{.name = "brevity", .kind = LengthObjectiveKind(), .tokenizer = "byte"};
  options.kind_options = LengthOptions{.target_chars = 0};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  ScoreInput item = Response("");
  item.response_ids = {'h', 'i', 257};  // <eos> is special and skipped
  EXPECT_EQ(ScoreAll(*objective, {item}), (std::vector<double>{-2.0}));
}

TEST(TextObjectiveTest, IdsOnlyResponseWithoutTokenizerIsInvalid) {
  ObjectiveOptions options{.name = "brevity", .kind = LengthObjectiveKind()};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  ScoreInput item = Response("");
  item.response_ids = {1, 2};
  EXPECT_EQ(objective->Prepare({Response("ok"), item}).status().message(),
            "items[1].response: objective 'brevity' reads text, but the item has token ids only "
            "and the objective has no tokenizer to decode them (set its `tokenizer`, or send the "
            "text)");
}

// A response that decodes to nothing (only an end-of-sequence token) is sent as "" with its
// ids: the empty text is the response, not a request to decode the ids.
TEST(TextObjectiveTest, AnEmptyTextGivenWithIdsIsScoredAsEmptyText) {
  ObjectiveOptions options{.name = "brevity", .kind = LengthObjectiveKind()};
  options.kind_options = LengthOptions{.target_chars = 0};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  ScoreInput item = Response("");
  item.response_ids = {257};
  item.response_text_given = true;
  EXPECT_EQ(ScoreAll(*objective, {item}), (std::vector<double>{0.0}));
}

TEST(TextObjectiveTest, UndecodableIdsAreInvalidNamingTheItem) {
  ObjectiveOptions options{.name = "brevity", .kind = LengthObjectiveKind(), .tokenizer = "byte"};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  ScoreInput item = Response("");
  item.response_ids = {1, 999};
  const absl::Status status = objective->Prepare({item}).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_EQ(status.message().rfind("items[0].response.token_ids: objective 'brevity': ", 0), 0u)
      << status;
}

TEST(TextObjectiveTest, NotModelBackedObjectivesRefuseNewWeights) {
  ObjectiveOptions options{.name = "brevity", .kind = LengthObjectiveKind()};
  std::unique_ptr<ScoringObjective> objective = Make(options);
  ASSERT_NE(objective, nullptr);
  const absl::Status status = objective->ModelForWeights().status();
  EXPECT_TRUE(absl::IsFailedPrecondition(status));
  EXPECT_EQ(status.message(),
            "objective 'brevity' is not model-backed (kind length) and takes no weights; only "
            "reward_model objectives do");
}

}  // namespace
}  // namespace plumb::scorer
