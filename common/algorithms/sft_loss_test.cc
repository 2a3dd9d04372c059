#include "common/algorithms/sft_loss.h"

#include <set>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(SftLossTest, IsTokenMeanOverTheBatch) {
  const at::Tensor logps = torch::tensor({{-1.0, -2.0, -9.0}, {-3.0, -9.0, -9.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}, torch::kDouble);
  EXPECT_NEAR(SftLoss(logps, mask).item<double>(), 2.0, 1e-12);
}

std::vector<SftExample> Examples() {
  return {{{1, 2}, {3, 4, 5}}, {{6}, {7}}, {{8, 9, 10}, {11, 12}}, {{13}, {14, 15}}};
}

TEST(PackSequencesTest, CoversEveryTokenOnceAndNeverSplitsAnExample) {
  PackOptions options;
  options.max_length = 6;
  options.pad_token_id = -1;
  const absl::StatusOr<PackedBatch> packed = PackSequences(Examples(), options);
  ASSERT_TRUE(packed.ok()) << packed.status();
  // Lengths 5, 2, 5, 3 -> first fit: row0 = {0}, row1 = {1, 3}, row2 = {2}.
  ASSERT_EQ(packed->examples_per_row.size(), 3u);
  EXPECT_EQ(packed->examples_per_row[1], (std::vector<int64_t>{1, 3}));
  std::multiset<int64_t> tokens;
  const at::Tensor ids = packed->input_ids;
  for (int64_t r = 0; r < ids.size(0); ++r) {
    for (int64_t c = 0; c < ids.size(1); ++c) {
      const int64_t segment = packed->segment_ids[r][c].item<int64_t>();
      if (segment == 0) {
        EXPECT_EQ(ids[r][c].item<int64_t>(), -1);
        EXPECT_EQ(packed->loss_mask[r][c].item<float>(), 0.0f);
        continue;
      }
      tokens.insert(ids[r][c].item<int64_t>());
    }
  }
  EXPECT_EQ(tokens, (std::multiset<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  // Row 1: [6, 7, 13, 14, 15, pad]; positions restart per segment, loss on responses only.
  EXPECT_TRUE(packed->position_ids[1].equal(torch::tensor({0, 1, 0, 1, 2, 0}, torch::kLong)));
  EXPECT_TRUE(packed->segment_ids[1].equal(torch::tensor({1, 1, 2, 2, 2, 0}, torch::kLong)));
  EXPECT_TRUE(packed->loss_mask[1].equal(torch::tensor({0.f, 1.f, 0.f, 1.f, 1.f, 0.f})));
}

TEST(PackSequencesTest, AttentionNeverCrossesDocuments) {
  PackOptions options;
  options.max_length = 6;
  const absl::StatusOr<PackedBatch> packed = PackSequences(Examples(), options);
  ASSERT_TRUE(packed.ok());
  const at::Tensor allowed = SegmentCausalMask(packed->segment_ids);  // [R, L, L]
  const at::Tensor seg = packed->segment_ids;
  const at::Tensor cross = seg.unsqueeze(-1) != seg.unsqueeze(-2);
  EXPECT_FALSE(allowed.logical_and(cross).any().item<bool>());
  // Causal inside a segment: token 3 of row 1 (segment 2) sees token 2 but not token 4.
  EXPECT_TRUE(allowed[1][3][2].item<bool>());
  EXPECT_FALSE(allowed[1][3][4].item<bool>());
  EXPECT_FALSE(allowed[1][3][1].item<bool>());
}

TEST(PackSequencesTest, TooLongExampleIsAnErrorUnlessTruncating) {
  PackOptions options;
  options.max_length = 4;
  const absl::StatusOr<PackedBatch> packed = PackSequences(Examples(), options);
  ASSERT_EQ(packed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(packed.status().message().find("example 0"), std::string::npos);
  options.truncate = true;
  const absl::StatusOr<PackedBatch> truncated = PackSequences(Examples(), options);
  ASSERT_TRUE(truncated.ok());
  EXPECT_TRUE(truncated->input_ids[0].equal(torch::tensor({1, 2, 3, 4}, torch::kLong)));
}

TEST(PackSequencesTest, RejectsEmptyExamplesAndBadLength) {
  EXPECT_FALSE(PackSequences({{{}, {}}}, PackOptions{}).ok());
  PackOptions options;
  options.max_length = 0;
  EXPECT_FALSE(PackSequences(Examples(), options).ok());
}

}  // namespace
}  // namespace plumb::algorithms
