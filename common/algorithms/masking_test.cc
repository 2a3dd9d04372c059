#include "common/algorithms/masking.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(MaskedMeanTest, AveragesOnlyValidElements) {
  const at::Tensor x = torch::tensor({{1.0, 2.0, 100.0}, {3.0, 100.0, 100.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 0.0}, {1.0, 0.0, 0.0}}, torch::kDouble);
  EXPECT_DOUBLE_EQ(MaskedMean(x, mask).item<double>(), 2.0);
  EXPECT_DOUBLE_EQ(MaskedSum(x, mask).item<double>(), 6.0);
  const at::Tensor rows = MaskedMean(x, mask, 1);
  EXPECT_DOUBLE_EQ(rows[0].item<double>(), 1.5);
  EXPECT_DOUBLE_EQ(rows[1].item<double>(), 3.0);
  EXPECT_DOUBLE_EQ(MaskedSum(x, mask, 1)[0].item<double>(), 3.0);
}

TEST(MaskedMeanTest, BoolMaskWorksLikeFloatMask) {
  const at::Tensor x = torch::tensor({1.0f, 2.0f, 4.0f});
  const at::Tensor mask = torch::tensor({true, false, true});
  EXPECT_FLOAT_EQ(MaskedMean(x, mask).item<float>(), 2.5f);
}

TEST(MaskedMeanTest, EmptyMaskGivesNan) {
  const at::Tensor x = torch::ones({2, 2});
  EXPECT_TRUE(std::isnan(MaskedMean(x, torch::zeros({2, 2})).item<float>()));
}

TEST(SequenceMeanOfMaskedMeansTest, WeighsRowsEquallyAndSkipsEmptyRows) {
  const at::Tensor x =
      torch::tensor({{1.0, 3.0, 0.0}, {10.0, 0.0, 0.0}, {7.0, 7.0, 7.0}}, torch::kDouble);
  const at::Tensor mask =
      torch::tensor({{1.0, 1.0, 0.0}, {1.0, 0.0, 0.0}, {0.0, 0.0, 0.0}}, torch::kDouble);
  // Rows: mean 2 and 10; the empty third row is ignored.
  EXPECT_NEAR(SequenceMeanOfMaskedMeans(x, mask).item<double>(), 6.0, 1e-7);
}

}  // namespace
}  // namespace plumb::algorithms
