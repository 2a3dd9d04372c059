#include "common/algorithms/reward_model_loss.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(PairwiseRewardLossTest, MarginRaisesTheLoss) {
  const at::Tensor chosen = torch::tensor({1.0, 0.5}, torch::kDouble);
  const at::Tensor rejected = torch::tensor({0.0, 0.7}, torch::kDouble);
  const at::Tensor margin = torch::tensor({1.0, 0.0}, torch::kDouble);
  const double plain = PairwiseRewardLoss(chosen, rejected).item<double>();
  const double with_margin = PairwiseRewardLoss(chosen, rejected, margin).item<double>();
  EXPECT_NEAR(plain, (std::log1p(std::exp(-1.0)) + std::log1p(std::exp(0.2))) / 2, 1e-12);
  EXPECT_GT(with_margin, plain);
  EXPECT_NEAR(LogExpRewardLoss(chosen, rejected).item<double>(), plain, 1e-12);
}

TEST(PairwiseRewardLossTest, LogExpIsStableForLargeGaps) {
  const at::Tensor chosen = torch::tensor({100.0, -100.0}, torch::kDouble);
  const at::Tensor rejected = torch::tensor({0.0, 0.0}, torch::kDouble);
  EXPECT_NEAR(LogExpRewardLoss(chosen, rejected).item<double>(), 50.0, 1e-9);
}

TEST(RewardModelLossTest, CenteringAddsMeanSquaredSum) {
  const at::Tensor chosen = torch::tensor({2.0, 1.0}, torch::kDouble).requires_grad_();
  const at::Tensor rejected = torch::tensor({1.0, 3.0}, torch::kDouble).requires_grad_();
  RewardModelLossOptions options;
  options.center_rewards_coefficient = 0.01;
  const RewardModelLoss out = ComputeRewardModelLoss(chosen, rejected, at::Tensor(), options);
  const double expected =
      PairwiseRewardLoss(chosen, rejected).item<double>() + 0.01 * (9.0 + 16.0) / 2.0;
  EXPECT_NEAR(out.loss.item<double>(), expected, 1e-12);
  EXPECT_DOUBLE_EQ(out.accuracy.item<double>(), 0.5);
  out.loss.backward();
  EXPECT_TRUE(torch::isfinite(chosen.grad()).all().item<bool>());
}

TEST(PairwiseAccuracyTest, TiesCountAsWrong) {
  EXPECT_DOUBLE_EQ(PairwiseAccuracy(torch::tensor({1.0, 2.0, 3.0}), torch::tensor({0.0, 2.0, 4.0}))
                       .item<double>(),
                   1.0 / 3.0);
}

TEST(MarginTableTest, Llama2SmallValues) {
  const MarginTable table = MarginTable::Llama2Small();
  EXPECT_DOUBLE_EQ(*table.Lookup("significantly_better"), 1.0);
  EXPECT_DOUBLE_EQ(*table.Lookup("better"), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(*table.Lookup("slightly_better"), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(*table.Lookup("unsure"), 0.0);
  EXPECT_DOUBLE_EQ(*MarginTable::Llama2Large().Lookup("significantly_better"), 3.0);
  const absl::StatusOr<at::Tensor> margins = table.Margins({"better", "negligibly_better"});
  ASSERT_TRUE(margins.ok());
  EXPECT_DOUBLE_EQ((*margins)[0].item<double>(), 2.0 / 3.0);
}

TEST(MarginTableTest, UnknownLabelIsAnErrorNamingIt) {
  const absl::StatusOr<double> margin = MarginTable::Llama2Small().Lookup("much_better");
  ASSERT_EQ(margin.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(margin.status().message().find("much_better"), std::string::npos);
  EXPECT_FALSE(MarginTable::Create({{"better", -1.0}}).ok());
  EXPECT_FALSE(MarginTable::Create({}).ok());
  EXPECT_TRUE(MarginTable::Create({{"a", 0.5}}).ok());
}

TEST(RankingToPairsTest, DistinctRanksGiveAllPairs) {
  const std::vector<std::pair<int, int>> pairs = RankingToPairs({3, 1, 4, 2});
  EXPECT_EQ(pairs.size(), 6u);  // K(K-1)/2
  for (const auto& [winner, loser] : pairs) {
    EXPECT_LT(std::vector<int>({3, 1, 4, 2})[winner], std::vector<int>({3, 1, 4, 2})[loser]);
  }
  EXPECT_EQ(pairs.front(), std::make_pair(1, 0));  // i = 0, j = 1: rank 1 beats rank 3
}

TEST(RankingToPairsTest, TiesAreSkipped) {
  const std::vector<std::pair<int, int>> pairs = RankingToPairs({1, 2, 2});
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0], std::make_pair(0, 1));
  EXPECT_EQ(pairs[1], std::make_pair(0, 2));
  EXPECT_TRUE(RankingToPairs({1}).empty());
}

}  // namespace
}  // namespace plumb::algorithms
