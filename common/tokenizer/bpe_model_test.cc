#include "common/tokenizer/bpe_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/tokenizer/byte_level_alphabet.h"
#include "common/tokenizer/tokenizer_test_util.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::HelloWorldMerges;
using testing::ToyModel;

std::vector<int32_t> EncodePiece(const BpeModel& model, absl::string_view piece) {
  std::vector<int32_t> ids;
  model.Encode(piece, &ids);
  return ids;
}

BpeModel Create(const BpeModelSpec& spec) {
  absl::StatusOr<BpeModel> model = BpeModel::Create(spec);
  EXPECT_TRUE(model.ok()) << model.status();
  return std::move(model).value();
}

TEST(BpeModelTest, MergesApplyInRankOrder) {
  const BpeModel model = Create(ToyModel(HelloWorldMerges()));
  EXPECT_THAT(EncodePiece(model, "hello"), ElementsAre(259));
  EXPECT_THAT(EncodePiece(model, " world"), ElementsAre(264));
  EXPECT_THAT(EncodePiece(model, "hell"), ElementsAre(258));
  // "he" + "l" has no merge; "ll" is not formed from a single "l".
  EXPECT_THAT(EncodePiece(model, "hel"), ElementsAre(256, 'l'));
  EXPECT_THAT(EncodePiece(model, "x"), ElementsAre('x'));
}

TEST(BpeModelTest, LowerRankWinsWhereMergesOverlap) {
  // "abc": a+b (256) and b+c (257) compete for the "b".
  EXPECT_THAT(EncodePiece(Create(ToyModel({{"a", "b"}, {"b", "c"}})), "abc"),
              ElementsAre(256, 'c'));
  EXPECT_THAT(EncodePiece(Create(ToyModel({{"b", "c"}, {"a", "b"}})), "abc"),
              ElementsAre('a', 256));
}

TEST(BpeModelTest, RepeatedPairsMergeLeftToRightWithoutOverlap) {
  const BpeModel model = Create(ToyModel({{"a", "a"}}));
  EXPECT_THAT(EncodePiece(model, "aaa"), ElementsAre(256, 'a'));
  EXPECT_THAT(EncodePiece(model, "aaaaa"), ElementsAre(256, 256, 'a'));
}

TEST(BpeModelTest, AMergeAppliesEverywhereBeforeAnyOtherMerge) {
  // Rank 0 merges "ab"+"a" (256), rank 1 merges "a"+"b" (257). In "abab" the reference encoder
  // forms "ab" at both places first, after which "ab"+"a" no longer applies. Merging one place
  // at a time would instead form "aba" + "b".
  const BpeModel model = Create(ToyModel({{"ab", "a"}, {"a", "b"}}));
  EXPECT_THAT(EncodePiece(model, "abab"), ElementsAre(257, 257));
}

TEST(BpeModelTest, IgnoreMergesEmitsWholeVocabularyTokens) {
  BpeModelSpec spec = ToyModel({{"a", "b"}});
  spec.vocab.emplace(BytesToByteLevel("xyz"), 300);  // no merges lead to it
  spec.ignore_merges = true;
  const BpeModel model = Create(spec);
  EXPECT_THAT(EncodePiece(model, "xyz"), ElementsAre(300));
  EXPECT_THAT(EncodePiece(model, "xyzab"), ElementsAre('x', 'y', 'z', 256));
}

TEST(BpeModelTest, MissingByteTokenIsAnError) {
  BpeModelSpec spec = ToyModel({});
  spec.vocab.erase(BytesToByteLevel(" "));
  absl::StatusOr<BpeModel> model = BpeModel::Create(spec);
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.status().message(), HasSubstr("no token for byte 0x20"));
}

TEST(BpeModelTest, MergeOutsideTheVocabularyIsAnErrorNamingTheMerge) {
  BpeModelSpec spec = ToyModel({{"a", "b"}});
  spec.merges.emplace_back("q", "r");  // "qr" is not a token
  spec.merges_label = "model.merges";
  absl::StatusOr<BpeModel> model = BpeModel::Create(spec);
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().message(),
            "model.merges[1] (\"q\", \"r\"): the merged token \"qr\" is not in the vocabulary");
}

}  // namespace
}  // namespace plumb::tokenizer
