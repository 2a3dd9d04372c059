#include "common/algorithms/reward_model_loss.h"

#include <cmath>
#include <vector>

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

TEST(SoftLabelRewardLossTest, ProbabilityOneIsExactlyTheBradleyTerryLoss) {
  const at::Tensor chosen = torch::tensor({1.0, 0.5, -3.0}, torch::kDouble);
  const at::Tensor rejected = torch::tensor({0.0, 0.7, 2.0}, torch::kDouble);
  const at::Tensor margin = torch::tensor({1.0, 0.0, 2.0 / 3.0}, torch::kDouble);
  const at::Tensor ones = torch::ones({3}, torch::kDouble);
  EXPECT_EQ(PairwiseRewardLoss(chosen, rejected, at::Tensor(), ones).item<double>(),
            PairwiseRewardLoss(chosen, rejected).item<double>());
  EXPECT_EQ(PairwiseRewardLoss(chosen, rejected, margin, ones).item<double>(),
            PairwiseRewardLoss(chosen, rejected, margin).item<double>());
  // In float32 too, as the reward-model update computes it.
  const at::Tensor c32 = chosen.to(torch::kFloat), r32 = rejected.to(torch::kFloat);
  EXPECT_EQ(PairwiseRewardLoss(c32, r32, at::Tensor(), ones.to(torch::kFloat)).item<float>(),
            PairwiseRewardLoss(c32, r32).item<float>());
}

TEST(SoftLabelRewardLossTest, AnUndecidedPairAtZeroCostsLogTwo) {
  const at::Tensor tied = torch::tensor({0.3, -1.25}, torch::kDouble);
  const at::Tensor half = torch::tensor({0.5, 0.5}, torch::kDouble);
  EXPECT_NEAR(PairwiseRewardLoss(tied, tied, at::Tensor(), half).item<double>(), std::log(2.0),
              1e-15);
  // Away from z = 0, p = 0.5 costs more than log 2: -log(sigmoid(z) sigmoid(-z)) / 2.
  const double z = 2.0;
  const double s = 1.0 / (1.0 + std::exp(-z));
  EXPECT_NEAR(
      PairwiseRewardLoss(torch::tensor({z}, torch::kDouble), torch::tensor({0.0}, torch::kDouble),
                         at::Tensor(), torch::tensor({0.5}, torch::kDouble))
          .item<double>(),
      -0.5 * (std::log(s) + std::log(1.0 - s)), 1e-12);
}

TEST(SoftLabelRewardLossTest, EachPairsLossIsTheCrossEntropyAgainstItsProbability) {
  const std::vector<double> z = {-4.0, -0.5, 0.0, 1.5, 30.0};
  const std::vector<double> p = {0.0, 0.2, 0.8, 0.9, 1.0};
  double expected = 0;
  for (size_t i = 0; i < z.size(); ++i) {
    const double s = 1.0 / (1.0 + std::exp(-z[i]));
    expected -= p[i] * std::log(s) + (1.0 - p[i]) * std::log1p(-s);
  }
  expected /= static_cast<double>(z.size());
  const at::Tensor zeros = torch::zeros({5}, torch::kDouble);
  EXPECT_NEAR(PairwiseRewardLoss(torch::tensor(z, torch::kDouble), zeros, at::Tensor(),
                                 torch::tensor(p, torch::kDouble))
                  .item<double>(),
              expected, 1e-9);
}

TEST(SoftLabelRewardLossTest, TheGradientWithRespectToZIsSigmoidMinusP) {
  // One pair per entry, so that d mean / d z_b = (sigmoid(z_b) - p_b) / B.
  const std::vector<double> z = {-3.0, -0.4, 0.0, 0.7, 2.5, -1.0};
  const std::vector<double> p = {0.1, 0.5, 0.8, 0.3, 1.0, 0.0};
  const at::Tensor chosen = torch::tensor(z, torch::kDouble).requires_grad_();
  const at::Tensor rejected = torch::zeros({6}, torch::kDouble).requires_grad_();
  PairwiseRewardLoss(chosen, rejected, at::Tensor(), torch::tensor(p, torch::kDouble)).backward();
  for (size_t i = 0; i < z.size(); ++i) {
    const double expected = (1.0 / (1.0 + std::exp(-z[i])) - p[i]) / static_cast<double>(z.size());
    EXPECT_NEAR(chosen.grad()[i].item<double>(), expected, 1e-12) << "z = " << z[i];
    EXPECT_NEAR(rejected.grad()[i].item<double>(), -expected, 1e-12) << "z = " << z[i];
  }
}

TEST(SoftLabelRewardLossTest, TheMarginShiftsZForSoftLabelsToo) {
  // z = r_c - r_r - m: (2.0, 0.0, m = 1.5) is z = 0.5; (0.0, 0.0, m = 1) is z = -1.
  const at::Tensor chosen = torch::tensor({2.0, 0.0}, torch::kDouble).requires_grad_();
  const at::Tensor rejected = torch::tensor({0.0, 0.0}, torch::kDouble);
  const at::Tensor margin = torch::tensor({1.5, 1.0}, torch::kDouble);
  const at::Tensor p = torch::tensor({0.7, 0.25}, torch::kDouble);
  const at::Tensor loss = PairwiseRewardLoss(chosen, rejected, margin, p);
  const at::Tensor shifted = PairwiseRewardLoss(torch::tensor({0.5, -1.0}, torch::kDouble),
                                                torch::zeros({2}, torch::kDouble), at::Tensor(), p);
  EXPECT_NEAR(loss.item<double>(), shifted.item<double>(), 1e-15);
  loss.backward();
  const double s0 = 1.0 / (1.0 + std::exp(-0.5)), s1 = 1.0 / (1.0 + std::exp(1.0));
  EXPECT_NEAR(chosen.grad()[0].item<double>(), (s0 - 0.7) / 2, 1e-12);
  EXPECT_NEAR(chosen.grad()[1].item<double>(), (s1 - 0.25) / 2, 1e-12);
  // Through ComputeRewardModelLoss, with centering: the pairwise part is the same.
  RewardModelLossOptions options;
  options.center_rewards_coefficient = 0.01;
  EXPECT_NEAR(ComputeRewardModelLoss(chosen, rejected, margin, options, p).loss.item<double>(),
              loss.item<double>() + 0.01 * (4.0 + 0.0) / 2.0, 1e-12);
}

TEST(PairwiseAccuracyTest, ASoftLabelBelowOneHalfPrefersRejectedAndOneHalfIsNotCounted) {
  const at::Tensor chosen = torch::tensor({1.0, 0.0, 1.0, 0.0, 1.0});
  const at::Tensor rejected = torch::tensor({0.0, 1.0, 0.0, 1.0, 0.0});
  // Right (p > 0.5, r_c > r_r), right (p < 0.5, r_c < r_r), wrong (p < 0.5, r_c > r_r), wrong
  // (p > 0.5, r_c < r_r), not counted (p = 0.5).
  const at::Tensor p = torch::tensor({0.9, 0.2, 0.0, 1.0, 0.5});
  const PairwiseAgreement agreement = CountPairwiseAgreement(chosen, rejected, p);
  EXPECT_EQ(agreement.correct.item<double>(), 2.0);
  EXPECT_EQ(agreement.counted.item<double>(), 4.0);
  EXPECT_DOUBLE_EQ(PairwiseAccuracy(chosen, rejected, p).item<double>(), 0.5);
  // Only undecided pairs: nothing counted, accuracy 0.
  const at::Tensor halves = torch::full({5}, 0.5);
  EXPECT_EQ(CountPairwiseAgreement(chosen, rejected, halves).counted.item<double>(), 0.0);
  EXPECT_EQ(PairwiseAccuracy(chosen, rejected, halves).item<double>(), 0.0);
  // Without a target every pair counts, as r_c > r_r.
  EXPECT_EQ(CountPairwiseAgreement(chosen, rejected).counted.item<double>(), 5.0);
  EXPECT_DOUBLE_EQ(PairwiseAccuracy(chosen, rejected).item<double>(), 3.0 / 5.0);
  const RewardModelLoss out = ComputeRewardModelLoss(chosen, rejected, at::Tensor(), {}, p);
  EXPECT_DOUBLE_EQ(out.accuracy.item<double>(), 0.5);
  EXPECT_EQ(out.agreement.correct.item<double>(), 2.0);
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
