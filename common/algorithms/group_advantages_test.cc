#include "common/algorithms/group_advantages.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(GrpoAdvantagesTest, ZeroVarianceGroupGetsZeroAdvantage) {
  const at::Tensor per_func = torch::tensor({{1.0}, {1.0}, {0.0}, {2.0}}, torch::kDouble);
  const at::Tensor weights = torch::tensor({1.0}, torch::kDouble);
  GrpoAdvantageOptions options;
  options.num_generations = 2;
  const absl::StatusOr<GrpoAdvantages> out = ComputeGrpoAdvantages(per_func, weights, options);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->advantages[0].item<double>(), 0.0);
  EXPECT_EQ(out->advantages[1].item<double>(), 0.0);
  EXPECT_NEAR(out->advantages[3].item<double>(), 1.0 / (std::sqrt(2.0) + 1e-4), 1e-12);
}

TEST(GrpoAdvantagesTest, NanRewardsAreIgnoredInTheWeightedSum) {
  const at::Tensor per_func = torch::tensor({{1.0, std::nan("")}, {2.0, 3.0}}, torch::kDouble);
  const at::Tensor weights = torch::tensor({1.0, 0.5}, torch::kDouble);
  const at::Tensor rewards = AggregateRewards(per_func, weights);
  EXPECT_DOUBLE_EQ(rewards[0].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(rewards[1].item<double>(), 3.5);
}

TEST(GrpoAdvantagesTest, InvalidGroupSizesAreRejected) {
  const at::Tensor per_func = torch::zeros({6, 1}, torch::kDouble);
  const at::Tensor weights = torch::ones({1}, torch::kDouble);
  GrpoAdvantageOptions options;
  options.num_generations = 4;
  EXPECT_EQ(ComputeGrpoAdvantages(per_func, weights, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.num_generations = 1;
  EXPECT_FALSE(ComputeGrpoAdvantages(per_func, weights, options).ok());
  EXPECT_FALSE(ParseRewardScaling("sometimes").ok());
}

TEST(RlooAdvantagesTest, BaselineIsLeaveOneOutMeanAndKlIsFoldedIn) {
  const at::Tensor per_func = torch::tensor({{1.0}, {2.0}, {6.0}}, torch::kDouble);
  const at::Tensor weights = torch::ones({1}, torch::kDouble);
  const at::Tensor old = torch::tensor({{-1.0, -1.0}, {-1.0, -1.0}, {-1.0, -1.0}}, torch::kDouble);
  const at::Tensor ref = torch::tensor({{-2.0, -2.0}, {-1.0, -1.0}, {-1.0, -1.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 0.0}, {1.0, 1.0}, {1.0, 1.0}}, torch::kDouble);
  RlooAdvantageOptions options;
  options.num_generations = 3;
  options.beta = 0.5;
  const absl::StatusOr<RlooAdvantages> out =
      ComputeRlooAdvantages(per_func, weights, old, ref, mask, options);
  ASSERT_TRUE(out.ok());
  EXPECT_NEAR(out->rewards[0].item<double>(), 1.0 - 0.5 * 1.0, 1e-12);
  EXPECT_NEAR(out->baselines[0].item<double>(), 4.0, 1e-12);
  EXPECT_NEAR(out->baselines[2].item<double>(), (0.5 + 2.0) / 2, 1e-12);
  EXPECT_NEAR(out->advantages.sum().item<double>(), 0.0, 1e-12);  // RLOO advantages sum to 0
  options.num_generations = 1;
  EXPECT_EQ(ComputeRlooAdvantages(per_func, weights, old, ref, mask, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TokenGroupAdvantagesTest, WithoutKlEveryValidTokenCarriesTheSequenceAdvantage) {
  const at::Tensor rewards = torch::tensor({1.0, 3.0}, torch::kDouble);
  const at::Tensor lp = torch::zeros({2, 3}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 0.0}, {1.0, 1.0, 1.0}}, torch::kDouble);
  TokenGroupAdvantageOptions options;
  options.n_samples_per_prompt = 2;
  options.estimator = GroupEstimator::kRloo;
  const absl::StatusOr<TokenGroupAdvantages> out =
      ComputeTokenGroupAdvantages(rewards, lp, lp, mask, options);
  ASSERT_TRUE(out.ok());
  EXPECT_NEAR(out->advantages[0][0].item<double>(), -2.0, 1e-12);
  EXPECT_NEAR(out->advantages[0][1].item<double>(), -2.0, 1e-12);
  EXPECT_EQ(out->advantages[0][2].item<double>(), 0.0);
  EXPECT_NEAR(out->advantages[1][2].item<double>(), 2.0, 1e-12);
  EXPECT_FALSE(ParseGroupEstimator("ppo").ok());
  options.n_samples_per_prompt = 3;
  EXPECT_FALSE(ComputeTokenGroupAdvantages(rewards, lp, lp, mask, options).ok());
}

}  // namespace
}  // namespace plumb::algorithms
