#include "common/algorithms/rejection_sampling.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(SelectBestOfKTest, PicksTheMaximumPerGroup) {
  const absl::StatusOr<BestOfK> best = SelectBestOfK({0.1, 0.9, 0.5, -1.0, -3.0, -2.0}, 3);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->best_in_group, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(best->flat_index, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(best->best_reward, (std::vector<double>{0.9, -1.0}));
}

TEST(SelectBestOfKTest, TiesGoToTheLowestIndex) {
  const absl::StatusOr<BestOfK> best = SelectBestOfK({0.2, 0.7, 0.7, 0.7}, 4);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->best_in_group[0], 1);
}

TEST(SelectBestOfKTest, NanNeverWinsAndAllNanGroupIsAnError) {
  const absl::StatusOr<BestOfK> best = SelectBestOfK({NAN, -5.0, NAN, NAN}, 2);
  EXPECT_EQ(best.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(best.status().message().find("prompt 1"), std::string::npos);
  const absl::StatusOr<BestOfK> ok = SelectBestOfK({NAN, -5.0, 1.0, NAN}, 2);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->best_in_group, (std::vector<int64_t>{1, 0}));
}

TEST(SelectBestOfKTest, InvalidGroupingIsAnError) {
  EXPECT_FALSE(SelectBestOfK(std::vector<double>{1.0, 2.0, 3.0}, 2).ok());
  EXPECT_FALSE(SelectBestOfK(std::vector<double>{1.0}, 0).ok());
  EXPECT_FALSE(SelectBestOfK(torch::zeros({2, 2}), 2).ok());
}

TEST(SelectBestOfKTest, TensorOverloadReadsAnyFloatDtype) {
  const absl::StatusOr<BestOfK> best =
      SelectBestOfK(torch::tensor({1.0, 3.0, 2.0, 0.5}, torch::kBFloat16), 2);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->flat_index, (std::vector<int64_t>{1, 2}));
}

}  // namespace
}  // namespace plumb::algorithms
