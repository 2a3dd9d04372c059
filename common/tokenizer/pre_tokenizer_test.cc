#include "common/tokenizer/pre_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Pieces(const PreTokenizerOptions& options, absl::string_view text) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre_tokenizer = PreTokenizer::Create(options);
  EXPECT_TRUE(pre_tokenizer.ok()) << pre_tokenizer.status();
  std::vector<std::string> pieces;
  if (!pre_tokenizer.ok()) return pieces;
  const absl::Status status =
      (*pre_tokenizer)->Split(text, [&](absl::string_view piece) { pieces.emplace_back(piece); });
  EXPECT_TRUE(status.ok()) << status;
  return pieces;
}

PreTokenizerOptions WithPattern(absl::string_view pattern,
                                SplitBehavior behavior = SplitBehavior::kIsolated,
                                bool invert = false) {
  PreTokenizerOptions options;
  options.splits.push_back(
      {.pattern = std::string(pattern), .behavior = behavior, .invert = invert});
  return options;
}

constexpr absl::string_view kSample = "HE'S  done\n\n  ok 12345!";

TEST(PreTokenizerTest, Gpt2PatternSplitsLikeTheReferenceEncoder) {
  // The expected pieces are what gpt-3-encoder's JavaScript regex gives.
  EXPECT_THAT(Pieces(WithPattern(kGpt2Pattern), kSample),
              ElementsAre("HE", "'", "S", " ", " done", "\n\n ", " ok", " 12345", "!"));
  EXPECT_THAT(Pieces(WithPattern(kGpt2Pattern), "Hello world  !!\n\nI'm 42"),
              ElementsAre("Hello", " world", " ", " !!", "\n", "\n", "I", "'m", " 42"));
}

TEST(PreTokenizerTest, Llama3PatternHasCaseInsensitiveContractionsAndDigitTriples) {
  EXPECT_THAT(Pieces(WithPattern(kLlama3Pattern), kSample),
              ElementsAre("HE", "'S", " ", " done", "\n\n", " ", " ok", " ", "123", "45", "!"));
}

TEST(PreTokenizerTest, Qwen2PatternSplitsEveryDigit) {
  EXPECT_THAT(
      Pieces(WithPattern(kQwen2Pattern), kSample),
      ElementsAre("HE", "'S", " ", " done", "\n\n", " ", " ok", " ", "1", "2", "3", "4", "5", "!"));
}

TEST(PreTokenizerTest, OffsetsStayRightAfterCharactersOutsideTheBasicPlane) {
  EXPECT_THAT(Pieces(WithPattern(kGpt2Pattern), "hi \xF0\x9F\x98\x80\xF0\x9F\x98\x80 caf\xC3\xA9"),
              ElementsAre("hi", " \xF0\x9F\x98\x80\xF0\x9F\x98\x80", " caf\xC3\xA9"));
}

TEST(PreTokenizerTest, InvalidBytesBypassTheRegexAsSinglePieces) {
  EXPECT_THAT(Pieces(WithPattern(kGpt2Pattern),
                     "ab\xFF"
                     "cd ef\xC3"),
              ElementsAre("ab", "\xFF", "cd", " ef", "\xC3"));
}

TEST(PreTokenizerTest, SplitBehaviorsFollowHuggingFace) {
  EXPECT_THAT(Pieces(WithPattern("-", SplitBehavior::kIsolated), "a-b--c"),
              ElementsAre("a", "-", "b", "-", "-", "c"));
  EXPECT_THAT(Pieces(WithPattern("-", SplitBehavior::kRemoved), "a-b--c"),
              ElementsAre("a", "b", "c"));
  EXPECT_THAT(Pieces(WithPattern("-", SplitBehavior::kMergedWithPrevious), "a-b--c"),
              ElementsAre("a-", "b-", "-", "c"));
  EXPECT_THAT(Pieces(WithPattern("-", SplitBehavior::kMergedWithNext), "a-b--c"),
              ElementsAre("a", "-b", "-", "-c"));
  EXPECT_THAT(Pieces(WithPattern("-", SplitBehavior::kContiguous), "a-b--c"),
              ElementsAre("a", "-", "b", "--", "c"));
  EXPECT_THAT(Pieces(WithPattern("-", SplitBehavior::kRemoved, /*invert=*/true), "a-b--c"),
              ElementsAre("-", "-", "-"));
}

TEST(PreTokenizerTest, LiteralPatternsAreNotRegexes) {
  PreTokenizerOptions options = WithPattern(".");
  options.splits[0].literal = true;
  EXPECT_THAT(Pieces(options, "a.b"), ElementsAre("a", ".", "b"));
}

TEST(PreTokenizerTest, SplitsRunInSequence) {
  PreTokenizerOptions options = WithPattern(R"(\s+)");
  options.splits.push_back({.pattern = R"(\p{N})"});
  EXPECT_THAT(Pieces(options, "ab12 c3"), ElementsAre("ab", "1", "2", " ", "c", "3"));
}

TEST(PreTokenizerTest, PrefixSpaceIsAddedOnlyWhenMissing) {
  PreTokenizerOptions options = WithPattern(kGpt2Pattern);
  options.add_prefix_space = true;
  EXPECT_THAT(Pieces(options, "hello"), ElementsAre(" hello"));
  EXPECT_THAT(Pieces(options, " hi"), ElementsAre(" hi"));
}

TEST(PreTokenizerTest, NormalizationComposesCharactersBeforeSplitting) {
  PreTokenizerOptions nfc;
  nfc.normalization = UnicodeNormalization::kNfc;
  EXPECT_THAT(Pieces(nfc, "cafe\xCC\x81"), ElementsAre("caf\xC3\xA9"));
  PreTokenizerOptions nfkc;
  nfkc.normalization = UnicodeNormalization::kNfkc;
  EXPECT_THAT(Pieces(nfkc,
                     "\xEF\xAC\x81"
                     "x"),
              ElementsAre("fix"));  // the "fi" ligature
}

TEST(PreTokenizerTest, WithoutSplitsTheTextIsOnePiece) {
  EXPECT_THAT(Pieces(PreTokenizerOptions{}, "a b c"), ElementsAre("a b c"));
}

TEST(PreTokenizerTest, BadRegexIsAnErrorQuotingThePattern) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre_tokenizer =
      PreTokenizer::Create(WithPattern("(ab"));
  ASSERT_FALSE(pre_tokenizer.ok());
  EXPECT_EQ(pre_tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pre_tokenizer.status().message(), HasSubstr("regex \"(ab\" does not compile"));
}

TEST(PreTokenizerTest, CatastrophicBacktrackingFailsFastAndLosesNoText) {
  // /(a+)+$/ tries 2^40 ways to split the a's before giving up at the "!": hours without a budget.
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre_tokenizer =
      PreTokenizer::Create(WithPattern("(a+)+$"));
  ASSERT_TRUE(pre_tokenizer.ok()) << pre_tokenizer.status();
  const std::string text = std::string(40, 'a') + "!";
  std::string joined;
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = (*pre_tokenizer)->Split(text, [&](absl::string_view piece) {
    absl::StrAppend(&joined, piece);
  });
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("\"(a+)+$\" exceeded its work budget"));
  EXPECT_EQ(joined, text);
}

TEST(PreTokenizerTest, ASpentBudgetStopsTheRegexesOfLaterCalls) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre_tokenizer =
      PreTokenizer::Create(WithPattern("(a+)+$|b"));
  ASSERT_TRUE(pre_tokenizer.ok()) << pre_tokenizer.status();
  regex::RegexMatchBudget budget(10);
  EXPECT_FALSE((*pre_tokenizer)->Split(std::string(40, 'a') + "!", budget, [](auto) {}).ok());
  std::vector<std::string> pieces;
  const absl::Status status = (*pre_tokenizer)->Split("abba", budget, [&](absl::string_view piece) {
    pieces.emplace_back(piece);
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(pieces, ElementsAre("abba"));  // unsplit: the regex no longer runs
}

TEST(PreTokenizerTest, OverlongPatternsAreRefused) {
  absl::StatusOr<std::unique_ptr<PreTokenizer>> pre_tokenizer =
      PreTokenizer::Create(WithPattern(std::string(kMaxRegexPatternBytes + 1, 'a')));
  EXPECT_EQ(pre_tokenizer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pre_tokenizer.status().message(), HasSubstr("is longer than 4096 bytes"));
}

}  // namespace
}  // namespace plumb::tokenizer
