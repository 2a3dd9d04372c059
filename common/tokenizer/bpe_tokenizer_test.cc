#include "common/tokenizer/bpe_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "common/tokenizer/byte_level_alphabet.h"
#include "common/tokenizer/tokenizer_test_util.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr int32_t kEndOfText = 265;

BpeTokenizerSpec ToySpec() {
  BpeTokenizerSpec spec;
  spec.model = testing::ToyModel(testing::HelloWorldMerges());
  spec.added_tokens.push_back({.id = kEndOfText, .content = "<|endoftext|>", .special = true});
  spec.pre_tokenizer.splits.push_back({.pattern = std::string(kGpt2Pattern)});
  spec.special_names.eos = "<|endoftext|>";
  spec.source = "toy";
  return spec;
}

std::unique_ptr<BpeTokenizer> Create(BpeTokenizerSpec spec) {
  absl::StatusOr<std::unique_ptr<BpeTokenizer>> tokenizer = BpeTokenizer::Create(std::move(spec));
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(*tokenizer) : nullptr;
}

std::vector<int32_t> Bytes(absl::string_view text) {
  std::vector<int32_t> ids;
  for (char c : text) ids.push_back(static_cast<uint8_t>(c));
  return ids;
}

TEST(BpeTokenizerTest, EncodesEachPreTokenByMerges) {
  auto tokenizer = Create(ToySpec());
  EXPECT_THAT(tokenizer->Encode("hello world"), ElementsAre(259, 264));
  // No merge joins a space to "h", so " hello" is a space byte and "hello"; "worlds" is one
  // piece in which " world" forms and "s" stays.
  EXPECT_THAT(tokenizer->Encode("hello hello worlds"), ElementsAre(259, ' ', 259, 264, 's'));
  EXPECT_TRUE(tokenizer->Encode("").empty());
}

TEST(BpeTokenizerTest, SpecialTokensInTextAreSingleIdsOnlyWhenAllowed) {
  auto tokenizer = Create(ToySpec());
  EXPECT_THAT(tokenizer->Encode("hello<|endoftext|>", {.allow_special = true}),
              ElementsAre(259, kEndOfText));
  std::vector<int32_t> plain = {259};
  for (int32_t id : Bytes("<|endoftext|>")) plain.push_back(id);
  EXPECT_THAT(tokenizer->Encode("hello<|endoftext|>"), ElementsAreArray(plain));
}

TEST(BpeTokenizerTest, DecodeRestoresTextAndCanSkipSpecials) {
  auto tokenizer = Create(ToySpec());
  EXPECT_EQ(tokenizer->Decode({259, 264, kEndOfText}).value(), "hello world<|endoftext|>");
  EXPECT_EQ(tokenizer->Decode({259, kEndOfText, 264}, {.skip_special = true}).value(),
            "hello world");
}

TEST(BpeTokenizerTest, DecodeRejectsIdsOutsideTheVocabulary) {
  BpeTokenizerSpec spec = ToySpec();
  spec.model.vocab.emplace(BytesToByteLevel("zz"), 300);  // ids 266..299 are holes
  auto tokenizer = Create(std::move(spec));
  absl::StatusOr<std::string> text = tokenizer->Decode({'a', 301});
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(text.status().message(),
            "token id 301 at position 1 is not in the vocabulary (valid ids are 0..300)");
  text = tokenizer->Decode({-1});
  EXPECT_THAT(text.status().message(), HasSubstr("token id -1 at position 0"));
  text = tokenizer->Decode({270});
  EXPECT_THAT(text.status().message(), HasSubstr("a hole in the id space"));
  EXPECT_EQ(tokenizer->IdToToken(270), std::nullopt);
  EXPECT_EQ(tokenizer->vocab_size(), 301);
}

TEST(BpeTokenizerTest, LooksUpTokensBothWays) {
  auto tokenizer = Create(ToySpec());
  EXPECT_EQ(tokenizer->TokenToId("\xC4\xA0world"), 264);  // "Ġworld"
  EXPECT_EQ(tokenizer->IdToToken(264), "\xC4\xA0world");
  EXPECT_EQ(tokenizer->TokenToId("<|endoftext|>"), kEndOfText);
  EXPECT_EQ(tokenizer->TokenToId("nope"), std::nullopt);
  EXPECT_TRUE(tokenizer->IsSpecial(kEndOfText));
  EXPECT_FALSE(tokenizer->IsSpecial(259));
  EXPECT_EQ(tokenizer->eos_id(), kEndOfText);
  EXPECT_EQ(tokenizer->bos_id(), std::nullopt);
  EXPECT_EQ(tokenizer->vocab_size(), 266);
  EXPECT_THAT(tokenizer->description(), HasSubstr("byte-level BPE, 266 ids, 9 merges, from toy"));
}

TEST(BpeTokenizerTest, RandomBytesRoundTripExactly) {
  auto tokenizer = Create(ToySpec());
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> length(0, 80);
  for (int i = 0; i < 3000; ++i) {
    std::string text = testing::RandomBytes(rng, length(rng));
    if (i % 3 == 0) text += " hello world <|endoftext|> caf\xC3\xA9";
    for (bool allow_special : {false, true}) {
      const std::vector<int32_t> ids = tokenizer->Encode(text, {.allow_special = allow_special});
      ASSERT_EQ(tokenizer->Decode(ids).value(), text) << "sample " << i;
    }
  }
}

TEST(BpeTokenizerTest, CacheDoesNotChangeResults) {
  auto cached = Create(ToySpec());
  BpeTokenizerSpec spec = ToySpec();
  spec.cache_capacity = 0;
  auto uncached = Create(std::move(spec));
  std::mt19937 rng(11);
  const std::string words = "hello world hell he ll or ld worlds helloworld ";
  for (int i = 0; i < 500; ++i) {
    std::string text;
    for (int w = 0; w < 8; ++w) text += words.substr(rng() % words.size(), rng() % 8);
    ASSERT_EQ(cached->Encode(text), uncached->Encode(text)) << text;
  }
  EXPECT_GT(cached->word_cache().size(), 0u);
  EXPECT_EQ(uncached->word_cache().size(), 0u);
}

TEST(BpeTokenizerTest, ConcurrentEncodesAgree) {
  auto tokenizer = Create(ToySpec());
  const std::string text = "hello world, hello worlds; he said hello\n";
  const std::vector<int32_t> expected = tokenizer->Encode(text);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) ASSERT_EQ(tokenizer->Encode(text), expected);
    });
  }
  for (std::thread& thread : threads) thread.join();
}

TEST(BpeTokenizerTest, InconsistentSpecsAreErrors) {
  BpeTokenizerSpec repeated_id = ToySpec();
  repeated_id.model.vocab.emplace("zz", 259);
  EXPECT_THAT(BpeTokenizer::Create(std::move(repeated_id)).status().message(),
              HasSubstr("have the same id 259"));

  BpeTokenizerSpec taken_id = ToySpec();
  taken_id.added_tokens.push_back({.id = 259, .content = "<x>"});
  EXPECT_THAT(BpeTokenizer::Create(std::move(taken_id)).status().message(),
              HasSubstr("added token 1 (\"<x>\"): id 259 already belongs to \"hello\""));

  BpeTokenizerSpec unknown_role = ToySpec();
  unknown_role.special_names.bos = "<s>";
  EXPECT_EQ(BpeTokenizer::Create(std::move(unknown_role)).status().message(),
            "bos token \"<s>\" is neither in the vocabulary nor added");
}

}  // namespace
}  // namespace plumb::tokenizer
