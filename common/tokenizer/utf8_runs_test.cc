#include "common/tokenizer/utf8_runs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

std::vector<std::pair<std::string, bool>> Runs(absl::string_view text) {
  std::vector<std::pair<std::string, bool>> runs;
  ForEachUtf8Run(
      text, [&](absl::string_view run, bool valid) { runs.emplace_back(std::string(run), valid); });
  return runs;
}

TEST(Utf8RunsTest, SequenceLengthFollowsTheUnicodeTable) {
  EXPECT_EQ(Utf8SequenceLength("a"), 1);
  EXPECT_EQ(Utf8SequenceLength("\xC3\xA9"), 2);          // é
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82\xAC"), 3);      // €
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98\x80"), 4);  // 😀
  EXPECT_EQ(Utf8SequenceLength(""), 0);
  EXPECT_EQ(Utf8SequenceLength("\xC0\xAF"), 0);          // overlong '/'
  EXPECT_EQ(Utf8SequenceLength("\xE0\x80\xAF"), 0);      // overlong
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80"), 0);      // surrogate U+D800
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80"), 0);  // above U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82"), 0);          // truncated
  EXPECT_EQ(Utf8SequenceLength("\x80"), 0);              // lone continuation byte
  EXPECT_EQ(Utf8SequenceLength("\xFF"), 0);
}

TEST(Utf8RunsTest, ValidTextIsOneRun) {
  EXPECT_THAT(Runs("caf\xC3\xA9 \xF0\x9F\x98\x80"),
              ElementsAre(Pair("caf\xC3\xA9 \xF0\x9F\x98\x80", true)));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));
}

TEST(Utf8RunsTest, EachInvalidByteIsItsOwnPieceBetweenValidRuns) {
  EXPECT_THAT(Runs("ab\xFF\xE2\x82"
                   "cd\xC3"),
              ElementsAre(Pair("ab", true), Pair("\xFF", false), Pair("\xE2", false),
                          Pair("\x82", false), Pair("cd", true), Pair("\xC3", false)));
  EXPECT_FALSE(IsValidUtf8("ab\xFF"));
}

TEST(Utf8RunsTest, EmptyTextHasNoRuns) { EXPECT_TRUE(Runs("").empty()); }

TEST(Utf8RunsTest, NulBytesAreValidUtf8) {
  EXPECT_THAT(Runs(std::string("a\0b", 3)), ElementsAre(Pair(std::string("a\0b", 3), true)));
}

TEST(Utf8RunsTest, ToValidUtf8ReplacesOnlyStrayBytes) {
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ToValidUtf8("a\xC3"), "a\xEF\xBF\xBD");  // a character cut short
  EXPECT_EQ(ToValidUtf8("\xFF\xFEok"), "\xEF\xBF\xBD\xEF\xBF\xBDok");
  EXPECT_TRUE(IsValidUtf8(ToValidUtf8("\xED\xA0\x80")));  // a surrogate
}

}  // namespace
}  // namespace plumb::tokenizer
