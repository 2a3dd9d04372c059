#include "common/algorithms/reward_composition.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace plumb::algorithms {
namespace {

TEST(RunningMomentsTest, MatchesBatchStatisticsOfConcatenatedData) {
  torch::manual_seed(3);
  const at::Tensor a = torch::randn({7}, torch::kDouble) * 2 + 1;
  const at::Tensor b = torch::randn({3, 4}, torch::kDouble) - 5;
  const at::Tensor c = torch::randn({1}, torch::kDouble);
  RunningMoments moments;
  ASSERT_TRUE(moments.Update(a).ok());
  ASSERT_TRUE(moments.Update(b).ok());
  ASSERT_TRUE(moments.Update(c).ok());
  const at::Tensor all = torch::cat({a, b.reshape(-1), c});
  EXPECT_DOUBLE_EQ(moments.count(), 20.0);
  EXPECT_NEAR(moments.mean(), all.mean().item<double>(), 1e-12);
  EXPECT_NEAR(moments.variance(), all.var(/*unbiased=*/false).item<double>(), 1e-12);
  EXPECT_NEAR(moments.sample_variance(), all.var(/*unbiased=*/true).item<double>(), 1e-12);
}

TEST(RunningMomentsTest, StateRoundTripsAsPlainNumbers) {
  RunningMoments moments;
  ASSERT_TRUE(moments.Update(torch::tensor({1.0, 2.0, 4.0})).ok());
  const absl::StatusOr<RunningMoments> restored = RunningMoments::FromState(moments.state());
  ASSERT_TRUE(restored.ok());
  EXPECT_DOUBLE_EQ(restored->mean(), moments.mean());
  EXPECT_DOUBLE_EQ(restored->variance(), moments.variance());
  EXPECT_FALSE(RunningMoments::FromState({.count = -1.0}).ok());
  EXPECT_FALSE(RunningMoments::FromState({.count = 0.0, .mean = 1.0}).ok());
}

std::map<std::string, at::Tensor> Scores() {
  return {{"safety", torch::tensor({0.9, 0.1, 0.9, 0.5}, torch::kDouble)},
          {"helpfulness", torch::tensor({0.3, 0.8, 0.6, 0.7}, torch::kDouble)}};
}

TEST(ComposeRewardsTest, LinearCombinationUsesWeights) {
  RewardCompositionOptions options;
  options.weights = {{"safety", 0.5}, {"helpfulness", 2.0}};
  const absl::StatusOr<at::Tensor> composed = ComposeRewards(Scores(), options);
  ASSERT_TRUE(composed.ok()) << composed.status();
  EXPECT_NEAR((*composed)[0].item<double>(), 0.45 + 0.6, 1e-12);
}

TEST(ComposeRewardsTest, GatingPicksSafetyWhenUnsafeOrBelowThreshold) {
  RewardCompositionOptions options;
  options.gating = SafetyGating{};
  const at::Tensor unsafe = torch::tensor({false, false, true, false});
  const absl::StatusOr<at::Tensor> composed = ComposeRewards(Scores(), options, unsafe);
  ASSERT_TRUE(composed.ok()) << composed.status();
  // Row 0: safe prompt, safety 0.9 >= 0.15 -> helpfulness. Row 1: safety 0.1 < 0.15 -> safety.
  // Row 2: unsafe prompt -> safety. Row 3: -> helpfulness.
  EXPECT_TRUE(torch::allclose(*composed, torch::tensor({0.3, 0.1, 0.9, 0.7}, torch::kDouble)));
}

TEST(ComposeRewardsTest, UnknownOrUnweightedObjectivesAreErrorsNamingThem) {
  RewardCompositionOptions options;
  options.weights = {{"safety", 1.0}, {"helpfulness", 1.0}, {"honesty", 1.0}};
  absl::StatusOr<at::Tensor> composed = ComposeRewards(Scores(), options);
  ASSERT_EQ(composed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(composed.status().message().find("honesty"), std::string::npos);
  options.weights = {{"safety", 1.0}};
  composed = ComposeRewards(Scores(), options);
  ASSERT_FALSE(composed.ok());
  EXPECT_NE(composed.status().message().find("helpfulness"), std::string::npos);
  options.weights = {};
  options.gating = SafetyGating{.safety_objective = "harmlessness"};
  composed = ComposeRewards(Scores(), options);
  ASSERT_FALSE(composed.ok());
  EXPECT_NE(composed.status().message().find("harmlessness"), std::string::npos);
}

// A NaN score is the caller's bad value: INVALID_ARGUMENT naming the objective, and the running
// statistics stay as they were. It once threw c10::Error out of ComposeRewards.
TEST(ComposeRewardsTest, ANanScoreToWhitenIsInvalidArgumentNamingTheObjective) {
  std::map<std::string, at::Tensor> scores = {
      {"helpfulness", torch::tensor({0.3, std::nan(""), 0.6}, torch::kDouble)}};
  RewardCompositionOptions options;
  options.weights = {{"helpfulness", 1.0}};
  options.whiten_objectives = true;
  std::map<std::string, RunningMoments> moments;
  const absl::StatusOr<at::Tensor> composed =
      ComposeRewards(scores, options, at::Tensor(), &moments);
  EXPECT_EQ(composed.status().code(), absl::StatusCode::kInvalidArgument) << composed.status();
  EXPECT_EQ(composed.status().message(),
            "compose rewards: objective 'helpfulness': a score is NaN");
  EXPECT_DOUBLE_EQ(moments["helpfulness"].count(), 0.0);
  RunningMoments direct;
  EXPECT_EQ(direct.Update(torch::tensor({1.0, std::nan("")})),
            absl::InvalidArgumentError("a score is NaN"));
  EXPECT_DOUBLE_EQ(direct.count(), 0.0);
}

TEST(ComposeRewardsTest, WhitensEachObjectiveWithRunningMoments) {
  RewardCompositionOptions options;
  options.weights = {{"safety", 1.0}, {"helpfulness", 1.0}};
  options.whiten_objectives = true;
  EXPECT_FALSE(ComposeRewards(Scores(), options).ok());  // needs moments
  std::map<std::string, RunningMoments> moments;
  const absl::StatusOr<at::Tensor> composed = ComposeRewards(Scores(), options, {}, &moments);
  ASSERT_TRUE(composed.ok());
  EXPECT_EQ(moments.size(), 2u);
  EXPECT_DOUBLE_EQ(moments["safety"].count(), 4.0);
  EXPECT_NEAR(composed->mean().item<double>(), 0.0, 1e-7);
}

}  // namespace
}  // namespace plumb::algorithms
