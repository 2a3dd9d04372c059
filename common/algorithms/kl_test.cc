#include "common/algorithms/kl.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(ApproxKlTest, EstimatorsMatchTheirFormulas) {
  const at::Tensor lp = torch::tensor({{-1.0, -2.0}}, torch::kDouble);
  const at::Tensor ref = torch::tensor({{-1.5, -1.0}}, torch::kDouble);
  const at::Tensor d = lp - ref;
  EXPECT_TRUE(torch::allclose(ApproxKl(lp, ref, KlEstimator::kK1), d));
  EXPECT_TRUE(torch::allclose(ApproxKl(lp, ref, KlEstimator::kK2), d * d / 2));
  EXPECT_TRUE(torch::allclose(ApproxKl(lp, ref, KlEstimator::kK3), torch::exp(-d) - 1 + d));
  EXPECT_TRUE((ApproxKl(lp, ref, KlEstimator::kK3) >= 0).all().item<bool>());
}

TEST(ApproxKlTest, ClampIsOptional) {
  const at::Tensor lp = torch::tensor({-30.0}, torch::kDouble);
  const at::Tensor ref = torch::tensor({0.0}, torch::kDouble);
  EXPECT_DOUBLE_EQ(ApproxKl(lp, ref, KlEstimator::kK1).item<double>(), -10.0);
  EXPECT_DOUBLE_EQ(ApproxKl(lp, ref, KlEstimator::kK1, std::nullopt).item<double>(), -30.0);
}

TEST(ParseKlEstimatorTest, AcceptsK1K2K3Only) {
  EXPECT_EQ(*ParseKlEstimator("k2"), KlEstimator::kK2);
  EXPECT_EQ(KlEstimatorName(*ParseKlEstimator("k3")), "k3");
  EXPECT_EQ(ParseKlEstimator("k4").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(KlShapedRewardTest, ScoreGoesToLastValidToken) {
  const at::Tensor scores = torch::tensor({1.0, 2.0, 3.0}, torch::kDouble);
  const at::Tensor kl = torch::ones({3, 4}, torch::kDouble);
  const at::Tensor mask = torch::tensor(
      {{1.0, 1.0, 0.0, 0.0}, {1.0, 1.0, 1.0, 1.0}, {0.0, 0.0, 0.0, 0.0}}, torch::kDouble);
  const at::Tensor reward = KlShapedReward(scores, kl, mask, 0.1);
  EXPECT_NEAR(reward[0][1].item<double>(), 1.0 - 0.1, 1e-12);
  EXPECT_NEAR(reward[0][2].item<double>(), -0.1, 1e-12);  // masked: keeps -coef * kl
  EXPECT_NEAR(reward[1][3].item<double>(), 2.0 - 0.1, 1e-12);
  EXPECT_NEAR(reward[2][3].item<double>(), 3.0 - 0.1, 1e-12);  // empty row: T - 1
  const at::Tensor clipped = KlShapedReward(scores, kl, mask, -1.0, std::make_pair(-1.0, 1.5));
  EXPECT_NEAR(clipped[1][3].item<double>(), 1.5, 1e-12);  // negative coef treated as 0
}

TEST(KlControllerTest, FixedNeverMoves) {
  KlController fixed = KlController::Fixed(0.05);
  fixed.Update(100.0, 1000);
  EXPECT_DOUBLE_EQ(fixed.value(), 0.05);
  EXPECT_FALSE(fixed.adaptive());
}

TEST(KlControllerTest, AdaptiveRaisesAboveTargetAndLowersBelow) {
  KlControllerOptions options;
  options.init_kl_coef = 0.1;
  options.target_kl = 6.0;
  options.horizon = 100;
  KlController high = *KlController::Create(options);
  high.Update(6.6, 10);  // error 0.1
  EXPECT_NEAR(high.value(), 0.1 * (1 + 0.1 * 10 / 100), 1e-15);
  KlController low = *KlController::Create(options);
  low.Update(5.4, 10);  // error -0.1
  EXPECT_NEAR(low.value(), 0.1 * (1 - 0.1 * 10 / 100), 1e-15);
}

TEST(KlControllerTest, AdaptiveErrorIsClippedToPointTwo) {
  KlControllerOptions options;
  options.init_kl_coef = 1.0;
  options.target_kl = 1.0;
  options.horizon = 10;
  KlController c = *KlController::Create(options);
  c.Update(100.0, 5);
  EXPECT_NEAR(c.value(), 1.0 + 0.2 * 5 / 10, 1e-15);
  c = *KlController::Create(options);
  c.Update(0.0, 5);
  EXPECT_NEAR(c.value(), 1.0 - 0.2 * 5 / 10, 1e-15);
}

TEST(KlControllerTest, InvalidOptionsAreRejected) {
  KlControllerOptions options;
  options.target_kl = 0.0;
  EXPECT_EQ(KlController::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = KlControllerOptions{};
  options.horizon = 0;
  EXPECT_FALSE(KlController::Create(options).ok());
  options = KlControllerOptions{};
  options.init_kl_coef = -1;
  EXPECT_FALSE(KlController::Create(options).ok());
}

}  // namespace
}  // namespace plumb::algorithms
