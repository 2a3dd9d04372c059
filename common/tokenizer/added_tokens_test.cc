#include "common/tokenizer/added_tokens.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;

// Renders a split as "text|<id>|text".
std::string Render(const AddedTokenMatcher& matcher, absl::string_view text, bool allow_special) {
  std::vector<std::string> parts;
  matcher.Split(
      text, allow_special, [&](absl::string_view stretch) { parts.emplace_back(stretch); },
      [&](int32_t id) { parts.push_back(absl::StrCat("<", id, ">")); });
  return absl::StrJoin(parts, "|");
}

TEST(AddedTokensTest, SpecialTokensAreMatchedOnlyWhenAllowed) {
  AddedTokenMatcher matcher(
      std::vector<AddedToken>{{.id = 9, .content = "<|eot|>", .special = true}});
  EXPECT_EQ(Render(matcher, "a<|eot|>b", /*allow_special=*/true), "a|<9>|b");
  EXPECT_EQ(Render(matcher, "a<|eot|>b", /*allow_special=*/false), "a<|eot|>b");
}

TEST(AddedTokensTest, NonSpecialAddedTokensAreAlwaysMatched) {
  AddedTokenMatcher matcher(std::vector<AddedToken>{{.id = 5, .content = "[X]", .special = false}});
  EXPECT_EQ(Render(matcher, "[X][X] x", false), "<5>|<5>| x");
}

TEST(AddedTokensTest, LongestTokenWinsAtTheSamePosition) {
  AddedTokenMatcher matcher(
      std::vector<AddedToken>{{.id = 1, .content = "<|im", .special = true},
                              {.id = 2, .content = "<|im_start|>", .special = true}});
  EXPECT_EQ(Render(matcher, "<|im_start|>hi<|im", true), "<2>|hi|<1>");
}

TEST(AddedTokensTest, EmptyMatcherPassesTextThrough) {
  AddedTokenMatcher matcher;
  std::vector<std::string> stretches;
  matcher.Split(
      "abc", true, [&](absl::string_view s) { stretches.emplace_back(s); }, [](int32_t) {});
  EXPECT_THAT(stretches, ElementsAre("abc"));
}

}  // namespace
}  // namespace plumb::tokenizer
