#include "common/regex/match_budget.h"

#include <gtest/gtest.h>
#include <unicode/regex.h>
#include <unicode/unistr.h>

#include <chrono>
#include <memory>
#include <string>

namespace plumb::regex {
namespace {

std::unique_ptr<icu::RegexMatcher> Matcher(const char* pattern, const icu::UnicodeString& text) {
  UErrorCode status = U_ZERO_ERROR;
  auto matcher =
      std::make_unique<icu::RegexMatcher>(icu::UnicodeString::fromUTF8(pattern), text, 0, status);
  EXPECT_TRUE(U_SUCCESS(status)) << u_errorName(status);
  return matcher;
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(RegexMatchBudgetTest, CatastrophicBacktrackingStopsWhenTheBudgetIsSpent) {
  // 2^40 ways to split the a's: without a budget this runs for hours.
  const icu::UnicodeString text = icu::UnicodeString::fromUTF8(std::string(40, 'a') + "!");
  auto matcher = Matcher("(a+)+$", text);
  RegexMatchBudget budget(100);
  UErrorCode status = U_ZERO_ERROR;
  budget.Attach(*matcher, status);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(matcher->find(status));
  EXPECT_EQ(status, U_REGEX_STOPPED_BY_CALLER);
  EXPECT_TRUE(budget.exhausted());
  EXPECT_LT(SecondsSince(start), 5.0);
}

TEST(RegexMatchBudgetTest, TheBudgetKeepsCountingAcrossMatchers) {
  // Each search costs ~26 ticks, within a 100-tick budget; setTimeLimit(100) would let every one
  // of them finish. The shared budget stops the fourth or fifth.
  const icu::UnicodeString text = icu::UnicodeString::fromUTF8(std::string(16, 'a') + "!");
  RegexMatchBudget budget(100);
  int finished = 0;
  int stopped = 0;
  for (int i = 0; i < 100 && !budget.exhausted(); ++i) {
    auto matcher = Matcher("(a+)+$", text);
    UErrorCode status = U_ZERO_ERROR;
    budget.Attach(*matcher, status);
    EXPECT_FALSE(matcher->find(status));
    finished += U_SUCCESS(status);
    stopped += status == U_REGEX_STOPPED_BY_CALLER;
  }
  EXPECT_TRUE(budget.exhausted());
  EXPECT_GE(finished, 1);
  EXPECT_LE(finished, 10);
  EXPECT_EQ(stopped, 1);
}

TEST(RegexMatchBudgetTest, OrdinaryPatternsOnLongTextsStayWithinTheirBudget) {
  std::string words;
  while (words.size() < (4 << 20)) words += "Hello world, 123 tokens\n\n  of text! ";
  const icu::UnicodeString text = icu::UnicodeString::fromUTF8(words);
  auto matcher = Matcher(
      R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", text);
  RegexMatchBudget budget = RegexMatchBudget::ForText(words.size());
  EXPECT_EQ(budget.total(),
            kRegexTicksPerText + static_cast<int64_t>(words.size() / kRegexBytesPerTick));
  UErrorCode status = U_ZERO_ERROR;
  budget.Attach(*matcher, status);
  int64_t matches = 0;
  while (matcher->find(status)) ++matches;
  EXPECT_TRUE(U_SUCCESS(status)) << u_errorName(status);
  EXPECT_GT(matches, 500'000);
  EXPECT_FALSE(budget.exhausted());
}

TEST(RegexMatchBudgetTest, BudgetsGrowWithTheTextAndThePasses) {
  EXPECT_EQ(RegexMatchBudget::ForText(0).total(), kRegexTicksPerText);
  EXPECT_EQ(RegexMatchBudget::ForText(640, 3).total(), 3 * (kRegexTicksPerText + 10));
  EXPECT_EQ(RegexMatchBudget::ForText(0, 0).total(), kRegexTicksPerText);
}

}  // namespace
}  // namespace plumb::regex
