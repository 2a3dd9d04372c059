#include "services/plumb-model/token_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/tokenizer/byte_tokenizer.h"

namespace plumb::model_tool {
namespace {

using ::testing::ElementsAre;

class TokenTextTest : public ::testing::Test {
 protected:
  void SetUp() override { bytes_ = *tokenizer::ByteTokenizer::Create(); }
  std::unique_ptr<tokenizer::ByteTokenizer> bytes_;
};

TEST_F(TokenTextTest, IdsPassThroughAndTextIsEncodedWithoutSpecials) {
  const absl::Status unused = absl::OkStatus();
  EXPECT_THAT(*ToIds({.ids = {300, 1}}, nullptr, unused, false), ElementsAre(300, 1));
  EXPECT_THAT(*ToIds({.text = "a<eos>"}, bytes_.get(), unused, false),
              ElementsAre('a', '<', 'e', 'o', 's', '>'));
  EXPECT_THAT(*ToIds({.text = "a"}, bytes_.get(), unused, true), ElementsAre(256, 'a'));
}

TEST_F(TokenTextTest, TextWithoutATokenizerReturnsWhyItCouldNotLoad) {
  const absl::Status why = absl::NotFoundError("m: no tokenizer");
  absl::StatusOr<std::vector<int64_t>> ids = ToIds({.text = "a"}, nullptr, why, false);
  EXPECT_EQ(ids.status(), why);
}

TEST_F(TokenTextTest, DecodeGivesNothingWithoutATokenizerOrForAnIdOutsideIt) {
  EXPECT_EQ(DecodeIds(bytes_.get(), {104, 105, 257}, false), "hi<eos>");
  EXPECT_EQ(DecodeIds(bytes_.get(), {104, 105, 257}, true), "hi");
  EXPECT_EQ(DecodeIds(bytes_.get(), {104, 259}, false), std::nullopt);
  EXPECT_EQ(DecodeIds(bytes_.get(), {-1}, false), std::nullopt);
  EXPECT_EQ(DecodeIds(nullptr, {104}, false), std::nullopt);
  EXPECT_TRUE(JsonOrNull(std::nullopt).is_null());
  EXPECT_EQ(JsonOrNull("x"), "x");
}

}  // namespace
}  // namespace plumb::model_tool
