#include "services/plumb-model/byte_tokenizer_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

#include "common/tokenizer/byte_level_alphabet.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/load_tokenizer.h"

namespace plumb::model_tool {
namespace {

namespace fs = std::filesystem;
using tokenizer::ByteTokenizer;
using tokenizer::EncodeOptions;
using tokenizer::Tokenizer;

std::unique_ptr<Tokenizer> LoadWrittenFiles(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / name;
  fs::create_directories(dir);
  EXPECT_TRUE(WriteByteTokenizerFiles(dir).ok());
  auto loaded = tokenizer::LoadTokenizer(dir.string());
  EXPECT_TRUE(loaded.ok()) << loaded.status();
  return loaded.ok() ? *std::move(loaded) : nullptr;
}

std::vector<int32_t> Ids(const Tokenizer& t, const std::string& text, bool special = false) {
  return t.Encode(text, EncodeOptions{.allow_special = special});
}

TEST(ByteTokenizerJsonTest, LoadsWithTheByteTokenizersVocabularyAndSpecialIds) {
  std::unique_ptr<Tokenizer> files = LoadWrittenFiles("byte_vocab");
  ASSERT_NE(files, nullptr);
  EXPECT_EQ(files->vocab_size(), 259);
  EXPECT_EQ(files->bos_id(), ByteTokenizer::kBosId);
  EXPECT_EQ(files->eos_id(), ByteTokenizer::kEosId);
  EXPECT_EQ(files->pad_id(), ByteTokenizer::kPadId);
  for (int byte = 0; byte < 256; ++byte) {
    EXPECT_EQ(files->IdToToken(byte),
              tokenizer::BytesToByteLevel(std::string(1, static_cast<char>(byte))));
    EXPECT_FALSE(files->IsSpecial(byte));
  }
  EXPECT_EQ(files->IdToToken(256), "<bos>");
  EXPECT_EQ(files->IdToToken(257), "<eos>");
  EXPECT_EQ(files->IdToToken(258), "<pad>");
  EXPECT_TRUE(files->IsSpecial(257));
}

TEST(ByteTokenizerJsonTest, EncodesAndDecodesEveryByteLikeTheByteTokenizer) {
  std::unique_ptr<Tokenizer> files = LoadWrittenFiles("byte_every_byte");
  ASSERT_NE(files, nullptr);
  auto reference = ByteTokenizer::Create();
  ASSERT_TRUE(reference.ok());
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte) {
    const std::string one(1, static_cast<char>(byte));
    all_bytes += one;
    EXPECT_EQ(Ids(*files, one), Ids(**reference, one)) << "byte " << byte;
    EXPECT_EQ(Ids(*files, "a" + one + " b"), Ids(**reference, "a" + one + " b")) << byte;
  }
  EXPECT_EQ(Ids(*files, all_bytes), Ids(**reference, all_bytes));
  EXPECT_EQ(*files->Decode(Ids(*files, all_bytes)), all_bytes);

  // Random byte strings, invalid UTF-8 and runs of spaces included.
  std::mt19937 random(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::string text(random() % 40, '\0');
    for (char& c : text) c = static_cast<char>(random() % 256);
    if (trial % 3 == 0) text += "   \n\n  x  ";
    const std::vector<int32_t> ids = Ids(*files, text);
    EXPECT_EQ(ids, Ids(**reference, text));
    EXPECT_EQ(*files->Decode(ids), text);
  }
}

TEST(ByteTokenizerJsonTest, RecognisesSpecialTokensOnlyWhenAllowedLikeTheByteTokenizer) {
  std::unique_ptr<Tokenizer> files = LoadWrittenFiles("byte_specials");
  ASSERT_NE(files, nullptr);
  auto reference = ByteTokenizer::Create();
  ASSERT_TRUE(reference.ok());
  const std::string text = "<bos>hi<eos><pad>";
  EXPECT_EQ(Ids(*files, text, true), (std::vector<int32_t>{256, 'h', 'i', 257, 258}));
  EXPECT_EQ(Ids(*files, text, true), Ids(**reference, text, true));
  EXPECT_EQ(Ids(*files, text, false), Ids(**reference, text, false));
  const std::vector<int32_t> ids = {256, 'o', 'k', 257};
  EXPECT_EQ(*files->Decode(ids), *(*reference)->Decode(ids));
  EXPECT_EQ(*files->Decode(ids, {.skip_special = true}), "ok");
}

TEST(ByteTokenizerJsonTest, NamesTheSpecialRolesInTokenizerConfig) {
  EXPECT_THAT(ByteTokenizerConfigJson(), ::testing::HasSubstr("\"eos_token\": \"<eos>\""));
  EXPECT_THAT(ByteTokenizerJson(), ::testing::HasSubstr("\"merges\": []"));
}

}  // namespace
}  // namespace plumb::model_tool
