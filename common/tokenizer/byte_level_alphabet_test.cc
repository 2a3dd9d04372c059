#include "common/tokenizer/byte_level_alphabet.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace plumb::tokenizer {
namespace {

TEST(ByteLevelAlphabetTest, SpaceNewlineAndPrintablesMapLikeGpt2) {
  EXPECT_EQ(ByteLevelCodePoint(' '), U'\u0120');   // 'Ġ'
  EXPECT_EQ(ByteLevelCodePoint('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(ByteLevelCodePoint(0), U'\u0100');
  EXPECT_EQ(ByteLevelCodePoint('a'), U'a');
  EXPECT_EQ(ByteLevelCodePoint(0xA1), U'\u00A1');
  EXPECT_EQ(ByteLevelCodePoint(0xAD), U'\u0143');  // soft hyphen is the last shifted byte
  EXPECT_EQ(BytesToByteLevel("hi there\n"), "hi\xC4\xA0there\xC4\x8A");
}

TEST(ByteLevelAlphabetTest, IsABijectionOverAllBytes) {
  std::set<char32_t> seen;
  for (int byte = 0; byte < 256; ++byte) {
    const char32_t cp = ByteLevelCodePoint(static_cast<uint8_t>(byte));
    EXPECT_TRUE(seen.insert(cp).second) << byte;
    EXPECT_EQ(ByteFromByteLevelCodePoint(cp), byte);
  }
  EXPECT_EQ(ByteFromByteLevelCodePoint(U' '), std::nullopt);
  EXPECT_EQ(ByteFromByteLevelCodePoint(U'\u0144'), std::nullopt);
}

TEST(ByteLevelAlphabetTest, RoundTripsEveryByteString) {
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all.push_back(static_cast<char>(byte));
  EXPECT_EQ(ByteLevelToBytes(BytesToByteLevel(all)), all);
}

TEST(ByteLevelAlphabetTest, RejectsCharactersOutsideTheAlphabet) {
  EXPECT_EQ(ByteLevelToBytes("a b"), std::nullopt);           // a raw space
  EXPECT_EQ(ByteLevelToBytes("\xE2\x82\xAC"), std::nullopt);  // €
  EXPECT_EQ(ByteLevelToBytes("\xFF"), std::nullopt);          // not UTF-8
}

}  // namespace
}  // namespace plumb::tokenizer
