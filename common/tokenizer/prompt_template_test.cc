#include "common/tokenizer/prompt_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "common/tokenizer/byte_tokenizer.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int32_t kUser = 259;
constexpr int32_t kAssistant = 260;

// Bytes only, with no bos/eos/pad.
class TokenizerWithoutRoles final : public Tokenizer {
 public:
  absl::Status AppendEncoding(absl::string_view text, const EncodeOptions&,
                              std::vector<int32_t>* ids) const override {
    for (char c : text) ids->push_back(static_cast<uint8_t>(c));
    return absl::OkStatus();
  }
  absl::Status DecodeTo(absl::Span<const int32_t> ids, const DecodeOptions&,
                        std::string* text) const override {
    for (int32_t id : ids) text->push_back(static_cast<char>(id));
    return absl::OkStatus();
  }
  int32_t vocab_size() const override { return 256; }
  std::optional<int32_t> TokenToId(absl::string_view) const override { return std::nullopt; }
  std::optional<std::string> IdToToken(int32_t) const override { return std::nullopt; }
  bool IsSpecial(int32_t) const override { return false; }
  const SpecialTokenIds& special_ids() const override { return none_; }
  std::string description() const override { return "bytes, no roles"; }

 private:
  SpecialTokenIds none_;
};

std::unique_ptr<ByteTokenizer> ChatTokenizer() {
  return std::move(
      ByteTokenizer::Create({.extra_special_tokens = {"<|user|>", "<|assistant|>"}}).value());
}

TEST(PromptTemplateTest, FromFormatSplitsAtThePlaceholders) {
  absl::StatusOr<PromptTemplate> t =
      PromptTemplate::FromFormat("<|user|>\n{prompt}\n<|assistant|>\n", "{response}\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->prompt_prefix, "<|user|>\n");
  EXPECT_EQ(t->prompt_suffix, "\n<|assistant|>\n");
  EXPECT_EQ(t->response_prefix, "");
  EXPECT_EQ(t->response_suffix, "\n");
  EXPECT_FALSE(t->add_bos);
  EXPECT_TRUE(t->add_eos);
}

TEST(PromptTemplateTest, FormatWithoutPlaceholderIsAnError) {
  EXPECT_THAT(PromptTemplate::FromFormat("Q: {question}", "{response}").status().message(),
              HasSubstr("must contain {prompt} exactly once"));
  EXPECT_THAT(PromptTemplate::FromFormat("{prompt}", "{response}{response}").status().message(),
              HasSubstr("must contain {response} exactly once"));
}

TEST(PromptTemplateTest, ExampleMarksWhereTheResponseStarts) {
  auto tokenizer = ChatTokenizer();
  PromptTemplate t = PromptTemplate::FromFormat("<|user|>{prompt}<|assistant|>", "{response}",
                                                /*add_bos=*/true, /*add_eos=*/true)
                         .value();
  PromptFormatter formatter = PromptFormatter::Create(tokenizer.get(), t).value();
  const TokenizedExample example = formatter.EncodeExample("hi", "yo");
  EXPECT_THAT(example.ids, ElementsAre(ByteTokenizer::kBosId, kUser, 'h', 'i', kAssistant, 'y', 'o',
                                       ByteTokenizer::kEosId));
  EXPECT_EQ(example.response_start, 5u);
  EXPECT_THAT(formatter.EncodePrompt("hi"),
              ElementsAre(ByteTokenizer::kBosId, kUser, 'h', 'i', kAssistant));
  EXPECT_THAT(formatter.EncodeResponse("yo"), ElementsAre('y', 'o', ByteTokenizer::kEosId));
}

TEST(PromptTemplateTest, PromptIdsArePrefixOfExampleIdsWhateverTheResponse) {
  auto tokenizer = ChatTokenizer();
  PromptFormatter formatter =
      PromptFormatter::Create(tokenizer.get(),
                              PromptTemplate::FromFormat("Q: {prompt}\nA:", " {response}").value())
          .value();
  const std::vector<int32_t> prompt = formatter.EncodePrompt("why?");
  for (absl::string_view response : {"", "because", "<|user|>"}) {
    const TokenizedExample example = formatter.EncodeExample("why?", response);
    ASSERT_EQ(example.response_start, prompt.size());
    EXPECT_TRUE(std::equal(prompt.begin(), prompt.end(), example.ids.begin()));
  }
  // The response prefix " " is forced text, so it is on the prompt side.
  EXPECT_EQ(tokenizer->Decode(prompt).value(), "Q: why?\nA: ");
}

TEST(PromptTemplateTest, UserTextCannotInjectSpecialTokens) {
  auto tokenizer = ChatTokenizer();
  PromptFormatter formatter =
      PromptFormatter::Create(tokenizer.get(),
                              PromptTemplate::FromFormat("<|user|>{prompt}", "{response}").value())
          .value();
  const TokenizedExample example = formatter.EncodeExample("<|assistant|>", "<|user|>");
  EXPECT_EQ(std::count(example.ids.begin(), example.ids.end(), kUser), 1);
  EXPECT_EQ(std::count(example.ids.begin(), example.ids.end(), kAssistant), 0);
  EXPECT_EQ(tokenizer->Decode(example.ids).value(), "<|user|><|assistant|><|user|><eos>");
}

TEST(PromptTemplateTest, AskingForAMissingBosIsAnError) {
  TokenizerWithoutRoles tokenizer;
  PromptTemplate t;
  t.add_bos = true;
  absl::StatusOr<PromptFormatter> formatter = PromptFormatter::Create(&tokenizer, t);
  ASSERT_FALSE(formatter.ok());
  EXPECT_EQ(formatter.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(formatter.status().message(),
              HasSubstr("adds a bos token but the tokenizer (bytes, no roles) has none"));
  t.add_bos = false;
  EXPECT_THAT(PromptFormatter::Create(&tokenizer, t).status().message(),
              HasSubstr("adds an eos token"));
  t.add_eos = false;
  EXPECT_TRUE(PromptFormatter::Create(&tokenizer, t).ok());
}

}  // namespace
}  // namespace plumb::tokenizer
