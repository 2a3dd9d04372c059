// What a hostile tokenizer.json (or text) can no longer do: nest Sequences without bound, name
// a huge token id, or hang encoding with a catastrophically backtracking regex.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/tokenizer/hf_pipeline_json.h"
#include "common/tokenizer/hf_tokenizer_json.h"
#include "common/tokenizer/tokenizer_test_util.h"

namespace plumb::tokenizer {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

Json ByteVocabJson() {
  Json vocab = Json::object();
  for (const auto& [token, id] : testing::ToyModel({}).vocab) vocab[token] = id;
  return vocab;
}

Json BaseJson() {
  return testing::Gpt2StyleTokenizerJson(ByteVocabJson(), Json::array(), Json::array());
}

absl::Status ParseStatus(const std::string& text) {
  return ParseHfTokenizerJson(text, "t.json").status();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// `depth` Sequences around a ByteLevel step, as tokenizer.json text.
std::string NestedSequences(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += R"({"type":"Sequence","pretokenizers":[)";
  text += R"({"type":"ByteLevel"})";
  for (int i = 0; i < depth; ++i) text += "]}";
  return text;
}

std::string WithPreTokenizer(const std::string& pre_tokenizer) {
  Json marker = BaseJson();
  marker["pre_tokenizer"] = "@@";
  std::string text = marker.dump();
  text.replace(text.find("\"@@\""), 4, pre_tokenizer);
  return text;
}

// 10,000 nested Sequences (404 KB) took 1.8 GB: each level built a path as long as its depth.
TEST(TokenizerLimitsTest, DeeplyNestedSequencesAreRefusedQuickly) {
  const auto start = std::chrono::steady_clock::now();
  const absl::Status status = ParseStatus(WithPreTokenizer(NestedSequences(10'000)));
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("t.json: not valid JSON: nested deeper"));
}

TEST(TokenizerLimitsTest, SequencesNestedPastTheirOwnLimitAreRefused) {
  EXPECT_TRUE(ParseStatus(WithPreTokenizer(NestedSequences(kMaxSequenceDepth))).ok());
  const absl::Status status = ParseStatus(WithPreTokenizer(NestedSequences(kMaxSequenceDepth + 1)));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("Sequences nested deeper than 8"));
}

TEST(TokenizerLimitsTest, PipelinesOfTooManyStepsAreRefused) {
  Json json = BaseJson();
  Json steps = Json::array();
  for (size_t i = 0; i < kMaxPipelineSteps; ++i) steps.push_back({{"type", "Digits"}});
  steps.push_back({{"type", "ByteLevel"}});
  json["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", steps}};
  const absl::Status status = ParseStatus(json.dump());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("pre_tokenizer.pretokenizers[64]: more than 64 steps"));
}

// One token with id 16,777,215 allocated 1.2 GB of tables.
TEST(TokenizerLimitsTest, SparseTokenIdsAreRefused) {
  Json json = BaseJson();
  json["added_tokens"] = {{{"id", 16'777'215}, {"content", "<|x|>"}, {"special", true}}};
  absl::StatusOr<BpeTokenizerSpec> spec = ParseHfTokenizerJson(json.dump(), "t.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const absl::Status status = BpeTokenizer::Create(*spec).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("token id 16777215 is too large for 257 tokens: ids must be below 1538"));
  // Holes are fine while the ids stay dense enough.
  json["added_tokens"][0]["id"] = 1537;
  spec = ParseHfTokenizerJson(json.dump(), "t.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(BpeTokenizer::Create(*spec).ok());
}

// A Split regex of /(a+)+$/ hung encoding forever on 40 a's and a "!".
TEST(TokenizerLimitsTest, ACatastrophicRegexFailsEncodingInsteadOfHanging) {
  Json json = BaseJson();
  json["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "(a+)+$"}}}, {"behavior", "Isolated"}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  json["added_tokens"] = {{{"id", 256}, {"content", "<|sep|>"}, {"special", false}}};
  absl::StatusOr<BpeTokenizerSpec> spec = ParseHfTokenizerJson(json.dump(), "t.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  absl::StatusOr<std::unique_ptr<BpeTokenizer>> tokenizer = BpeTokenizer::Create(*spec);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status();
  const std::string text = std::string(40, 'a') + "!";

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<int32_t>> ids = (*tokenizer)->TryEncode(text);
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(ids.status().message()), HasSubstr("exceeded its work budget"));

  // Encode cannot fail: it keeps a lossless encoding of the unsplit text.
  start = std::chrono::steady_clock::now();
  const std::vector<int32_t> fallback = (*tokenizer)->Encode(text);
  EXPECT_LT(SecondsSince(start), 5.0);
  EXPECT_EQ((*tokenizer)->Decode(fallback).value_or(""), text);
  // Many added tokens do not buy many budgets: the whole text shares one.
  std::string many;
  for (int i = 0; i < 50; ++i) absl::StrAppend(&many, text, "<|sep|>");
  start = std::chrono::steady_clock::now();
  EXPECT_FALSE((*tokenizer)->TryEncode(many).ok());
  EXPECT_LT(SecondsSince(start), 5.0);
}

}  // namespace
}  // namespace plumb::tokenizer
