#include "common/tokenizer/hf_tokenizer_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/tokenizer/byte_level_alphabet.h"
#include "common/tokenizer/tokenizer_test_util.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

// The toy merges plus "'"+"S" (265), "1"+"2" (266), "12"+"3" (267), "4"+"5" (268); "HE" (269)
// is a token no merge makes.
std::vector<std::pair<std::string, std::string>> ToyMerges() {
  auto merges = testing::HelloWorldMerges();
  merges.insert(merges.end(), {{"'", "S"}, {"1", "2"}, {"12", "3"}, {"4", "5"}});
  return merges;
}

Json ToyVocab() {
  BpeModelSpec model = testing::ToyModel(ToyMerges());
  Json vocab = Json::object();
  for (const auto& [token, id] : model.vocab) vocab[token] = id;
  vocab["HE"] = 269;
  return vocab;
}

Json AddedToken(int id, const std::string& content, bool special = true) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// A tokenizer.json as GPT-2's: ByteLevel pre-tokenizer with its regex, "a b" merges.
Json Gpt2StyleJson() {
  Json merges = Json::array();
  for (const auto& [left, right] : ToyMerges()) {
    merges.push_back(BytesToByteLevel(left) + " " + BytesToByteLevel(right));
  }
  return testing::Gpt2StyleTokenizerJson(ToyVocab(), merges, {AddedToken(270, "<|endoftext|>")});
}

// A tokenizer.json as Llama 3's: Split by its regex then ByteLevel without regex, merges as
// lists, ignore_merges, specials outside the model's vocab.
Json Llama3StyleJson() {
  Json json = Gpt2StyleJson();
  Json merges = Json::array();
  for (const auto& [left, right] : ToyMerges()) {
    merges.push_back({BytesToByteLevel(left), BytesToByteLevel(right)});
  }
  json["model"]["merges"] = merges;
  json["model"]["ignore_merges"] = true;
  json["added_tokens"] = {AddedToken(300, "<|begin_of_text|>"), AddedToken(301, "<|end_of_text|>")};
  json["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers",
                            {{{"type", "Split"},
                              {"pattern", {{"Regex", std::string(kLlama3Pattern)}}},
                              {"behavior", "Isolated"},
                              {"invert", false}},
                             {{"type", "ByteLevel"},
                              {"add_prefix_space", false},
                              {"trim_offsets", true},
                              {"use_regex", false}}}}};
  json["post_processor"] = {{"type", "TemplateProcessing"}};
  return json;
}

std::unique_ptr<BpeTokenizer> Load(const Json& json) {
  absl::StatusOr<BpeTokenizerSpec> spec = ParseHfTokenizerJson(json.dump(), "t.json");
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return nullptr;
  absl::StatusOr<std::unique_ptr<BpeTokenizer>> tokenizer = BpeTokenizer::Create(*spec);
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  return tokenizer.ok() ? std::move(*tokenizer) : nullptr;
}

std::string ParseError(const Json& json) {
  absl::StatusOr<BpeTokenizerSpec> spec = ParseHfTokenizerJson(json.dump(), "t.json");
  EXPECT_FALSE(spec.ok());
  if (spec.ok()) return "";
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

TEST(HfTokenizerJsonTest, Gpt2StyleFileEncodesByRegexAndStringMerges) {
  auto tokenizer = Load(Gpt2StyleJson());
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_THAT(tokenizer->Encode("hello world"), ElementsAre(259, 264));
  // Case-sensitive contractions: "'" and "S" are separate pieces; digits stay one piece.
  EXPECT_THAT(tokenizer->Encode("HE'S 12345"), ElementsAre('H', 'E', '\'', 'S', ' ', 267, 268));
  EXPECT_THAT(tokenizer->Encode("hello<|endoftext|>", {.allow_special = true}),
              ElementsAre(259, 270));
  EXPECT_TRUE(tokenizer->IsSpecial(270));
  EXPECT_EQ(tokenizer->Decode({259, 264, 270}).value(), "hello world<|endoftext|>");
}

TEST(HfTokenizerJsonTest, Llama3StyleFileSplitsContractionsAndDigitsAndIgnoresMerges) {
  auto tokenizer = Load(Llama3StyleJson());
  ASSERT_NE(tokenizer, nullptr);
  // Pieces "HE" (a whole token: ignore_merges), "'S", " ", "123", "45".
  EXPECT_THAT(tokenizer->Encode("HE'S 12345"), ElementsAre(269, 265, ' ', 267, 268));
  EXPECT_THAT(
      tokenizer->Encode("<|begin_of_text|>hello world<|end_of_text|>", {.allow_special = true}),
      ElementsAre(300, 259, 264, 301));
  EXPECT_EQ(tokenizer->vocab_size(), 302);
  EXPECT_EQ(tokenizer->IdToToken(285), std::nullopt);  // between the vocab and the specials
}

TEST(HfTokenizerJsonTest, ListAndStringMergesGiveTheSameIds) {
  Json list_form = Gpt2StyleJson();
  Json merges = Json::array();
  for (const auto& [left, right] : ToyMerges()) {
    merges.push_back({BytesToByteLevel(left), BytesToByteLevel(right)});
  }
  list_form["model"]["merges"] = merges;
  auto from_strings = Load(Gpt2StyleJson());
  auto from_lists = Load(list_form);
  ASSERT_NE(from_lists, nullptr);
  for (absl::string_view text : {"hello world", "HE'S 12345 hell", "or ld world\n"}) {
    EXPECT_EQ(from_strings->Encode(text), from_lists->Encode(text)) << text;
  }
}

TEST(HfTokenizerJsonTest, NfcNormalizerComposesBeforeEncoding) {
  Json json = Gpt2StyleJson();
  json["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}}}};
  auto tokenizer = Load(json);
  ASSERT_NE(tokenizer, nullptr);
  EXPECT_EQ(tokenizer->Encode("cafe\xCC\x81"), tokenizer->Encode("caf\xC3\xA9"));
  EXPECT_EQ(tokenizer->Decode(tokenizer->Encode("cafe\xCC\x81")).value(), "caf\xC3\xA9");
}

TEST(HfTokenizerJsonTest, LoadingAFileTakesRolesFromTheConfigBesideIt) {
  const std::string dir = testing::MakeTempDir("roles");
  testing::WriteFile(dir + "/tokenizer.json", Llama3StyleJson().dump());
  absl::StatusOr<std::unique_ptr<BpeTokenizer>> guessed =
      LoadHfTokenizerJson(dir + "/tokenizer.json");
  ASSERT_TRUE(guessed.ok()) << guessed.status();
  EXPECT_EQ((*guessed)->bos_id(), 300);
  EXPECT_EQ((*guessed)->eos_id(), 301);
  EXPECT_EQ((*guessed)->pad_id(), std::nullopt);

  testing::WriteFile(dir + "/tokenizer_config.json",
                     R"({"bos_token": null, "eos_token": {"content": "<|end_of_text|>"},
                         "pad_token": "<|begin_of_text|>"})");
  absl::StatusOr<std::unique_ptr<BpeTokenizer>> configured =
      LoadHfTokenizerJson(dir + "/tokenizer.json");
  ASSERT_TRUE(configured.ok()) << configured.status();
  EXPECT_EQ((*configured)->bos_id(), std::nullopt);
  EXPECT_EQ((*configured)->eos_id(), 301);
  EXPECT_EQ((*configured)->pad_id(), 300);
}

TEST(HfTokenizerJsonTest, MissingModelIsAnErrorNamingTheField) {
  Json json = Gpt2StyleJson();
  json.erase("model");
  EXPECT_EQ(ParseError(json), "t.json: missing field \"model\" (the vocabulary and merges)");
}

TEST(HfTokenizerJsonTest, UnsupportedModelTypesAreErrors) {
  for (const char* type : {"Unigram", "WordPiece", "WordLevel"}) {
    Json json = Gpt2StyleJson();
    json["model"]["type"] = type;
    EXPECT_EQ(ParseError(json), std::string("t.json: model.type \"") + type +
                                    "\" is not supported; Plumb reads byte-level \"BPE\" models "
                                    "only");
  }
}

TEST(HfTokenizerJsonTest, BadMergesEntriesAreErrorsNamingTheIndex) {
  Json json = Gpt2StyleJson();
  json["model"]["merges"][1] = 42;
  EXPECT_EQ(ParseError(json),
            "t.json: model.merges[1]: expected \"left right\" or [\"left\", \"right\"], got 42");
  json["model"]["merges"][1] = "a b c";
  EXPECT_THAT(ParseError(json), HasSubstr("model.merges[1]: expected \"left right\" or "
                                          "[\"left\", \"right\"], got \"a b c\""));
  json["model"]["merges"][1] = {"a"};
  EXPECT_THAT(ParseError(json), HasSubstr("model.merges[1]: expected"));
}

TEST(HfTokenizerJsonTest, MergeOfUnknownTokensIsAnErrorNamingTheFileAndMerge) {
  Json json = Gpt2StyleJson();
  json["model"]["merges"].push_back("x y");
  const std::string dir = testing::MakeTempDir("bad_merge");
  testing::WriteFile(dir + "/tokenizer.json", json.dump());
  absl::StatusOr<std::unique_ptr<BpeTokenizer>> tokenizer =
      LoadHfTokenizerJson(dir + "/tokenizer.json");
  ASSERT_FALSE(tokenizer.ok());
  EXPECT_EQ(tokenizer.status().message(),
            dir +
                "/tokenizer.json: model.merges[13] (\"x\", \"y\"): the merged token \"xy\" is "
                "not in the vocabulary");
}

TEST(HfTokenizerJsonTest, TextChangingOrUnknownPipelineStepsAreErrors) {
  Json json = Gpt2StyleJson();
  json["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_THAT(ParseError(json),
              HasSubstr("t.json: normalizer.type \"Lowercase\" is not supported"));

  json = Gpt2StyleJson();
  json["pre_tokenizer"] = {{"type", "Sequence"},
                           {"pretokenizers", {{{"type", "Whitespace"}}, {{"type", "ByteLevel"}}}}};
  EXPECT_THAT(ParseError(json),
              HasSubstr("t.json: pre_tokenizer.pretokenizers[0].type \"Whitespace\" is not "
                        "supported"));

  json = Gpt2StyleJson();
  json["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}};
  EXPECT_THAT(ParseError(json), HasSubstr("pre_tokenizer: has no ByteLevel step"));

  json = Gpt2StyleJson();
  json["decoder"] = {{"type", "WordPiece"}};
  EXPECT_THAT(ParseError(json), HasSubstr("decoder.type \"WordPiece\" is not supported"));

  json = Gpt2StyleJson();
  json["model"]["dropout"] = 0.1;
  EXPECT_THAT(ParseError(json), HasSubstr("model.dropout: 0.1 is not supported"));

  json = Gpt2StyleJson();
  json["model"]["byte_fallback"] = true;
  EXPECT_THAT(ParseError(json), HasSubstr("model.byte_fallback: true is not supported"));

  json = Gpt2StyleJson();
  json["added_tokens"][0]["lstrip"] = true;
  EXPECT_EQ(ParseError(json),
            "t.json: added_tokens[0].lstrip: true is not supported (token \"<|endoftext|>\")");

  json = Gpt2StyleJson();
  json["truncation"] = {{"max_length", 512}};
  EXPECT_THAT(ParseError(json), HasSubstr("t.json: truncation: an object is not supported"));
}

TEST(HfTokenizerJsonTest, InvalidJsonIsAnErrorNamingTheFile) {
  absl::StatusOr<BpeTokenizerSpec> spec = ParseHfTokenizerJson("{\"model\": ", "t.json");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("t.json: not valid JSON"));
}

TEST(HfTokenizerJsonTest, BadSplitRegexIsAnError) {
  Json json = Llama3StyleJson();
  json["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  absl::StatusOr<BpeTokenizerSpec> spec = ParseHfTokenizerJson(json.dump(), "t.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(BpeTokenizer::Create(*spec).status().message(),
              HasSubstr("regex \"(unclosed\" does not compile"));
}

}  // namespace
}  // namespace plumb::tokenizer
