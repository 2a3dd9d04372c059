#include "common/algorithms/advantages.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace plumb::algorithms {
namespace {

TEST(GaeTest, MaskedPositionsGetZeroAdvantage) {
  const at::Tensor values = torch::tensor({{0.5, 0.4, 9.0, 9.0}}, torch::kDouble);
  const at::Tensor rewards = torch::tensor({{0.0, 1.0, 7.0, 7.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 0.0, 0.0}}, torch::kDouble);
  const GaeResult out = Gae(values, rewards, mask, 1.0, 1.0);
  EXPECT_EQ(out.advantages[0][2].item<double>(), 0.0);
  EXPECT_EQ(out.advantages[0][3].item<double>(), 0.0);
  EXPECT_EQ(out.returns[0][3].item<double>(), 0.0);
  // gamma = lambda = 1: returns are rewards-to-go; A_t = G_t - V_t.
  EXPECT_NEAR(out.returns[0][0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(out.advantages[0][0].item<double>(), 0.5, 1e-12);
  EXPECT_NEAR(out.advantages[0][1].item<double>(), 0.6, 1e-12);
}

TEST(GaeTest, LambdaZeroIsOneStepTd) {
  const at::Tensor values = torch::tensor({{1.0, 2.0, 3.0}}, torch::kDouble);
  const at::Tensor rewards = torch::tensor({{0.5, 0.25, 1.0}}, torch::kDouble);
  const at::Tensor mask = torch::ones({1, 3}, torch::kDouble);
  const GaeResult out = Gae(values, rewards, mask, 0.9, 0.0);
  EXPECT_NEAR(out.advantages[0][0].item<double>(), 0.5 + 0.9 * 2.0 - 1.0, 1e-12);
  EXPECT_NEAR(out.advantages[0][2].item<double>(), 1.0 - 3.0, 1e-12);
}

TEST(CumulativeReturnsTest, DiscountsMaskedRewards) {
  const at::Tensor rewards = torch::tensor({{1.0, 2.0, 4.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 0.0}}, torch::kDouble);
  const at::Tensor g = CumulativeReturns(rewards, mask, 0.5);
  EXPECT_NEAR(g[0][0].item<double>(), 2.0, 1e-12);
  EXPECT_NEAR(g[0][2].item<double>(), 0.0, 1e-12);
}

TEST(WhitenAdvantagesTest, OpenRlhfUsesPopulationVarianceAndKeepsPadding) {
  const at::Tensor x = torch::tensor({{1.0, 3.0, 100.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 0.0}}, torch::kDouble);
  const at::Tensor w = WhitenAdvantages(x, mask, WhitenStyle::kOpenRlhf);
  EXPECT_NEAR(w[0][0].item<double>(), -1.0, 1e-7);
  EXPECT_NEAR(w[0][2].item<double>(), 98.0, 1e-5);  // not zeroed
  const at::Tensor t = ZeroFillPadding(WhitenAdvantages(x, mask, WhitenStyle::kTrl), mask);
  EXPECT_NEAR(t[0][0].item<double>(), -1.0 / std::sqrt(2.0), 1e-7);  // unbiased var = 2
  EXPECT_EQ(t[0][2].item<double>(), 0.0);
  const at::Tensor centered = WhitenAdvantages(x, mask, WhitenStyle::kOpenRlhf, true, true);
  EXPECT_NEAR(centered[0][1].item<double>(), 1.0, 1e-12);
  const at::Tensor unshifted = WhitenAdvantages(x, mask, WhitenStyle::kTrl, false);
  EXPECT_NEAR(unshifted[0][0].item<double>(), 2.0 - 1.0 / std::sqrt(2.0), 1e-7);
}

TEST(WhitenBatchTest, UsesTheUnbiasedStdAndLeavesASingleValueAlone) {
  const at::Tensor x = torch::tensor({1.0, 2.0, 4.0}, torch::kDouble);
  const double mean = 7.0 / 3.0;
  const double std = std::sqrt(
      ((1 - mean) * (1 - mean) + (2 - mean) * (2 - mean) + (4 - mean) * (4 - mean)) / 2.0);
  const at::Tensor centred = WhitenBatch(x);
  EXPECT_NEAR(centred[0].item<double>(), (1 - mean) / (std + 1e-8), 1e-12);
  EXPECT_NEAR(centred.mean().item<double>(), 0.0, 1e-12);
  const at::Tensor scaled = WhitenBatch(x, /*subtract_mean=*/false, 0.5);
  EXPECT_NEAR(scaled[2].item<double>(), 4.0 / (std + 0.5), 1e-12);
  const at::Tensor one = torch::tensor({3.0}, torch::kDouble);
  EXPECT_TRUE(torch::equal(WhitenBatch(one), one));
}

TEST(PpoAdvantagesTest, PipelineChainsKlRewardGaeAndWhitening) {
  torch::manual_seed(0);
  const at::Tensor lp = -torch::rand({2, 4}, torch::kDouble);
  const at::Tensor ref = -torch::rand({2, 4}, torch::kDouble);
  const at::Tensor values = torch::randn({2, 4}, torch::kDouble);
  const at::Tensor scores = torch::tensor({1.0, -1.0}, torch::kDouble);
  const at::Tensor mask =
      torch::tensor({{1.0, 1.0, 1.0, 0.0}, {1.0, 1.0, 1.0, 1.0}}, torch::kDouble);
  PpoAdvantageOptions options;
  const PpoAdvantages out = ComputePpoAdvantages(lp, ref, values, scores, mask, options);
  const at::Tensor kl = ApproxKl(lp, ref, KlEstimator::kK1);
  const GaeResult gae = Gae(values, KlShapedReward(scores, kl, mask, 0.01), mask, 1.0, 0.95);
  EXPECT_TRUE(torch::allclose(out.returns, gae.returns));
  EXPECT_TRUE(torch::allclose(out.advantages,
                              WhitenAdvantages(gae.advantages, mask, WhitenStyle::kOpenRlhf)));
}

}  // namespace
}  // namespace plumb::algorithms
