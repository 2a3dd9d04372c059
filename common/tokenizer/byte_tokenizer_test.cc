#include "common/tokenizer/byte_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "common/tokenizer/tokenizer_test_util.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<ByteTokenizer> Create(ByteTokenizerOptions options = {}) {
  auto tokenizer = ByteTokenizer::Create(std::move(options));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return std::move(*tokenizer);
}

TEST(ByteTokenizerTest, EveryByteIsItsOwnId) {
  auto tokenizer = Create();
  EXPECT_THAT(tokenizer->Encode(std::string("a\0\xFF", 3)), ElementsAre('a', 0, 255));
  EXPECT_EQ(tokenizer->vocab_size(), 259);
  EXPECT_EQ(tokenizer->bos_id(), ByteTokenizer::kBosId);
  EXPECT_EQ(tokenizer->eos_id(), ByteTokenizer::kEosId);
  EXPECT_EQ(tokenizer->pad_id(), ByteTokenizer::kPadId);
}

TEST(ByteTokenizerTest, SpecialsAreRecognisedOnlyWhenAllowed) {
  auto tokenizer = Create({.extra_special_tokens = {"<|user|>"}});
  EXPECT_THAT(tokenizer->Encode("<eos>x<|user|>", {.allow_special = true}),
              ElementsAre(257, 'x', 259));
  EXPECT_EQ(tokenizer->Encode("<eos>").size(), 5u);
  EXPECT_EQ(tokenizer->vocab_size(), 260);
}

TEST(ByteTokenizerTest, DecodeRoundTripsRandomBytesAndSkipsSpecialsWhenAsked) {
  auto tokenizer = Create();
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    const std::string text = testing::RandomBytes(rng, rng() % 100);
    ASSERT_EQ(tokenizer->Decode(tokenizer->Encode(text)).value(), text);
  }
  EXPECT_EQ(tokenizer->Decode({256, 'h', 'i', 257}).value(), "<bos>hi<eos>");
  EXPECT_EQ(tokenizer->Decode({256, 'h', 'i', 257}, {.skip_special = true}).value(), "hi");
  EXPECT_THAT(tokenizer->Decode({'h', 259}).status().message(),
              HasSubstr("token id 259 at position 1 is not in the vocabulary"));
}

TEST(ByteTokenizerTest, TokenSpellingsAreReadable) {
  auto tokenizer = Create();
  EXPECT_EQ(tokenizer->IdToToken('A'), "A");
  EXPECT_EQ(tokenizer->IdToToken(' '), "<0x20>");
  EXPECT_EQ(tokenizer->IdToToken(0xFF), "<0xFF>");
  EXPECT_EQ(tokenizer->IdToToken(258), "<pad>");
  EXPECT_EQ(tokenizer->TokenToId("<0x41>"), 'A');
  EXPECT_EQ(tokenizer->TokenToId("<0xff>"), 0xFF);
  EXPECT_EQ(tokenizer->TokenToId("A"), 'A');
  EXPECT_EQ(tokenizer->TokenToId("<bos>"), 256);
  EXPECT_EQ(tokenizer->TokenToId("<nope>"), std::nullopt);
  EXPECT_TRUE(tokenizer->IsSpecial(256));
  EXPECT_FALSE(tokenizer->IsSpecial('A'));
}

TEST(ByteTokenizerTest, BadExtraSpecialTokensAreErrors) {
  EXPECT_THAT(ByteTokenizer::Create({.extra_special_tokens = {"<eos>"}}).status().message(),
              HasSubstr("\"<eos>\" is given twice"));
  EXPECT_THAT(ByteTokenizer::Create({.extra_special_tokens = {"<0x41>"}}).status().message(),
              HasSubstr("spells a byte"));
  EXPECT_THAT(ByteTokenizer::Create({.extra_special_tokens = {""}}).status().message(),
              HasSubstr("is empty"));
}

}  // namespace
}  // namespace plumb::tokenizer
