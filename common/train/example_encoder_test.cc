#include "common/train/example_encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/tokenizer/byte_tokenizer.h"

namespace plumb::train {
namespace {

using tokenizer::ByteTokenizer;

ExampleEncoder MakeEncoder(int64_t max_length, int64_t max_prompt_length,
                           Truncation truncation = Truncation::kLeft) {
  std::shared_ptr<const tokenizer::Tokenizer> tok = *ByteTokenizer::Create();
  return ExampleEncoder(tok, EncoderOptions{.max_length = max_length,
                                            .max_prompt_length = max_prompt_length,
                                            .truncation = truncation});
}

std::vector<int64_t> Bytes(const std::string& text) {
  return std::vector<int64_t>(text.begin(), text.end());
}

TEST(ExampleEncoderTest, AddsBosToThePromptAndEosToTheResponse) {
  const EncodedSequence seq = *MakeEncoder(64, 32).Encode("ab", "cd");
  EXPECT_EQ(seq.prompt, (std::vector<int64_t>{ByteTokenizer::kBosId, 'a', 'b'}));
  EXPECT_EQ(seq.response, (std::vector<int64_t>{'c', 'd', ByteTokenizer::kEosId}));
  EXPECT_FALSE(seq.truncated);
}

TEST(ExampleEncoderTest, KeepsTheEndOfALongPromptAndTheStartOfALongResponse) {
  // 1 + 10 prompt tokens, 10 + 1 response tokens, budget 12 with at most 4 for the prompt
  // when both are too long.
  const EncodedSequence seq = *MakeEncoder(12, 4).Encode("0123456789", "abcdefghij");
  EXPECT_EQ(seq.prompt, Bytes("6789"));
  EXPECT_EQ(seq.response, Bytes("abcdefgh"));
  EXPECT_TRUE(seq.truncated);
  EXPECT_EQ(seq.prompt.size() + seq.response.size(), 12u);
}

TEST(ExampleEncoderTest, AShortResponseLeavesRoomForMoreOfThePrompt) {
  const EncodedSequence seq = *MakeEncoder(12, 4).Encode("0123456789", "a");
  EXPECT_EQ(seq.response, (std::vector<int64_t>{'a', ByteTokenizer::kEosId}));
  EXPECT_EQ(seq.prompt.size(), 10u);
  EXPECT_EQ(seq.prompt, Bytes("0123456789"));  // BOS dropped first
}

TEST(ExampleEncoderTest, SharedPromptIsCutTheSameForEveryResponse) {
  const std::vector<EncodedSequence> seqs =
      *MakeEncoder(10, 3).EncodeShared("0123456789", {"a", "abcdefghijk"});
  ASSERT_EQ(seqs.size(), 2u);
  EXPECT_EQ(seqs[0].prompt, seqs[1].prompt);
  EXPECT_EQ(seqs[0].prompt, Bytes("789"));
  EXPECT_EQ(seqs[1].response.size(), 7u);
  EXPECT_EQ(seqs[0].response.size(), 2u);
}

TEST(ExampleEncoderTest, AnEmptyPromptStillHasAPositionToPredictFrom) {
  std::shared_ptr<const tokenizer::Tokenizer> tok = *ByteTokenizer::Create();
  ExampleEncoder encoder(tok, EncoderOptions{.add_bos = false});
  const EncodedSequence seq = *encoder.Encode("", "hi");
  EXPECT_EQ(seq.prompt.size(), 1u);
}

TEST(ExampleEncoderTest, RightTruncationKeepsTheStartOfALongPrompt) {
  const EncodedSequence seq =
      *MakeEncoder(12, 4, Truncation::kRight).Encode("0123456789", "abcdefghij");
  EXPECT_EQ(seq.prompt, (std::vector<int64_t>{ByteTokenizer::kBosId, '0', '1', '2'}));
  EXPECT_EQ(seq.response, Bytes("abcdefgh"));
  EXPECT_TRUE(seq.prompt_cut);
  EXPECT_TRUE(seq.response_cut);
}

TEST(ExampleEncoderTest, ErrorTruncationRefusesWhatDoesNotFitAndCutsNothing) {
  const ExampleEncoder encoder = MakeEncoder(12, 4, Truncation::kError);
  absl::StatusOr<EncodedSequence> long_one = encoder.Encode("0123456789", "abcdefghij");
  EXPECT_EQ(long_one.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(long_one.status().message()),
              ::testing::HasSubstr("the prompt (11 tokens) and its longest response (11 tokens) "
                                   "are over tokenization.max_length 12"));
  absl::StatusOr<EncodedSequence> fits = encoder.Encode("0123", "abc");
  ASSERT_TRUE(fits.ok());
  EXPECT_FALSE(fits->truncated);
}

// Silent truncation hid that 36% of a corpus lost text: every cut is counted by reason.
TEST(ExampleEncoderTest, CountsEverySequenceCutByReason) {
  const ExampleEncoder encoder = MakeEncoder(12, 4);
  ASSERT_TRUE(encoder.Encode("ab", "cd").ok());                          // fits
  ASSERT_TRUE(encoder.Encode("0123456789", "abcdefghij").ok());          // both cut
  ASSERT_TRUE(encoder.Encode("0123456789abcdef", "a").ok());             // prompt cut
  ASSERT_TRUE(encoder.EncodeShared("0", {"a", "abcdefghijklmn"}).ok());  // one response cut
  const TruncationCounts counts = encoder.counts();
  EXPECT_EQ(counts.sequences, 5);
  EXPECT_EQ(counts.prompts_cut, 2);
  EXPECT_EQ(counts.responses_cut, 2);
}

}  // namespace
}  // namespace plumb::train
