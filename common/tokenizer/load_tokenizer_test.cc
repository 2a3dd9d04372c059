#include "common/tokenizer/load_tokenizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/tokenizer/byte_level_alphabet.h"
#include "common/tokenizer/gpt2_vocab_files.h"
#include "common/tokenizer/tokenizer_test_util.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Writes a toy GPT-2 vocabulary (encoder.json + vocab.bpe) into `dir`, with "<|endoftext|>" as
// id 265.
void WriteToyGpt2Files(const std::string& dir) {
  BpeModelSpec model = testing::ToyModel(testing::HelloWorldMerges());
  nlohmann::json encoder = nlohmann::json::object();
  for (const auto& [token, id] : model.vocab) encoder[token] = id;
  encoder["<|endoftext|>"] = 265;
  std::string merges = "#version: 0.2\n";
  for (const auto& [left, right] : model.merges) absl::StrAppend(&merges, left, " ", right, "\n");
  testing::WriteFile(dir + "/encoder.json", encoder.dump());
  testing::WriteFile(dir + "/vocab.bpe", merges);
}

// A minimal tokenizer.json for the same toy vocabulary.
std::string ToyTokenizerJson() {
  BpeModelSpec model = testing::ToyModel(testing::HelloWorldMerges());
  nlohmann::json vocab = nlohmann::json::object();
  for (const auto& [token, id] : model.vocab) vocab[token] = id;
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [left, right] : model.merges) merges.push_back(left + " " + right);
  const nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}};
  return nlohmann::json{{"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}},
                        {"pre_tokenizer", byte_level},
                        {"decoder", byte_level}}
      .dump();
}

TEST(LoadTokenizerTest, ByteNameGivesTheByteTokenizer) {
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer("byte");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_EQ((*tokenizer)->vocab_size(), 259);
  EXPECT_THAT((*tokenizer)->description(), HasSubstr("byte tokenizer"));
}

TEST(LoadTokenizerTest, AcceptsATokenizerJsonFileOrItsFolder) {
  const std::string dir = testing::MakeTempDir("hf");
  testing::WriteFile(dir + "/tokenizer.json", ToyTokenizerJson());
  for (const std::string& path : {dir, dir + "/tokenizer.json"}) {
    absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(path);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
    EXPECT_THAT((*tokenizer)->Encode("hello world"), ElementsAre(259, 264));
    EXPECT_THAT((*tokenizer)->description(), HasSubstr(dir + "/tokenizer.json"));
  }
}

TEST(LoadTokenizerTest, AcceptsAFolderWithGpt2VocabularyFiles) {
  const std::string dir = testing::MakeTempDir("gpt2");
  WriteToyGpt2Files(dir);
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  EXPECT_THAT((*tokenizer)->Encode("hello world<|endoftext|>", {.allow_special = true}),
              ElementsAre(259, 264, 265));
  EXPECT_EQ((*tokenizer)->bos_id(), 265);
  EXPECT_EQ((*tokenizer)->eos_id(), 265);
  EXPECT_TRUE((*tokenizer)->IsSpecial(265));
}

TEST(LoadTokenizerTest, FolderWithoutTokenizerFilesIsNotFound) {
  const std::string dir = testing::MakeTempDir("empty");
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir);
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tokenizer.status().message(),
              HasSubstr("holds neither tokenizer.json nor GPT-2's encoder.json + vocab.bpe"));
  tokenizer = LoadTokenizer(dir + "/nope");
  EXPECT_EQ(tokenizer.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(tokenizer.status().message(), HasSubstr("does not exist; expected \"byte\""));
}

TEST(Gpt2VocabFilesTest, MalformedMergeLineIsAnErrorNamingFileAndLine) {
  absl::StatusOr<BpeTokenizerSpec> spec =
      ParseGpt2VocabFiles("{\"a\": 0}", "encoder.json", "#version: 0.2\na b\nabc\n", "vocab.bpe");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(),
            "vocab.bpe:3: expected two tokens separated by a space, got \"abc\"");
}

TEST(Gpt2VocabFilesTest, NonIntegerIdIsAnErrorNamingTheToken) {
  absl::StatusOr<BpeTokenizerSpec> spec =
      ParseGpt2VocabFiles("{\"a\": \"x\"}", "encoder.json", "#version: 0.2\n", "vocab.bpe");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(), "encoder.json: \"a\": expected a 32-bit integer, got \"x\"");
}

}  // namespace
}  // namespace plumb::tokenizer
