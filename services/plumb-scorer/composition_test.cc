#include "services/plumb-scorer/composition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace plumb::scorer {
namespace {

using ::testing::ElementsAre;

CompositionOptions Weighted() {
  CompositionOptions c;
  c.weights = {{"helpfulness", 1.0}, {"sentiment", 0.5}};
  return c;
}

CompositionOptions Gated() {
  CompositionOptions c = Weighted();
  c.gating = SafetyGatingOptions{.safety_objective = "safety", .threshold = 0.15};
  return c;
}

TEST(CompositionTest, RewardIsTheWeightedSumOfScores) {
  const ComposedReward r =
      ComposeReward(Weighted(), {{"helpfulness", 2.0}, {"sentiment", -1.0}, {"other", 9.0}}, false);
  EXPECT_DOUBLE_EQ(*r.reward, 2.0 * 1.0 + -1.0 * 0.5);
  EXPECT_FALSE(r.gated);
}

TEST(CompositionTest, FlaggedPromptTakesTheSafetyScore) {
  const ComposedReward r =
      ComposeReward(Gated(), {{"helpfulness", 2.0}, {"sentiment", 1.0}, {"safety", 0.9}}, true);
  EXPECT_DOUBLE_EQ(*r.reward, 0.9);
  EXPECT_TRUE(r.gated);
}

TEST(CompositionTest, SafetyBelowThresholdTakesTheSafetyScore) {
  const ComposedReward r =
      ComposeReward(Gated(), {{"helpfulness", 2.0}, {"sentiment", 1.0}, {"safety", 0.1}}, false);
  EXPECT_DOUBLE_EQ(*r.reward, 0.1);
  EXPECT_TRUE(r.gated);
}

TEST(CompositionTest, SafetyAtOrAboveThresholdKeepsTheWeightedSum) {
  const ComposedReward r =
      ComposeReward(Gated(), {{"helpfulness", 2.0}, {"sentiment", 1.0}, {"safety", 0.15}}, false);
  EXPECT_DOUBLE_EQ(*r.reward, 2.5);
  EXPECT_FALSE(r.gated);
}

TEST(CompositionTest, LogitTransformInvertsASigmoidAndClampsTheEnds) {
  CompositionOptions c;
  c.weights = {{"p", 1.0}};
  c.logit_transform = true;
  EXPECT_NEAR(*ComposeReward(c, {{"p", 0.75}}, false).reward, std::log(3.0), 1e-12);
  EXPECT_NEAR(*ComposeReward(c, {{"p", 1.0}}, false).reward,
              std::log((1 - kLogitEpsilon) / kLogitEpsilon), 1e-6);
  EXPECT_NEAR(*ComposeReward(c, {{"p", -3.0}}, false).reward,
              std::log(kLogitEpsilon / (1 - kLogitEpsilon)), 1e-6);
}

TEST(CompositionTest, OffsetThenScaleComeLastAndScaleZeroMeansOne) {
  CompositionOptions c;
  c.weights = {{"p", 2.0}};
  c.offset = 1.0;
  c.scale = 3.0;
  EXPECT_DOUBLE_EQ(*ComposeReward(c, {{"p", 5.0}}, false).reward, (10.0 - 1.0) * 3.0);
  c.scale = 0.0;
  EXPECT_DOUBLE_EQ(*ComposeReward(c, {{"p", 5.0}}, false).reward, 9.0);
  c.logit_transform = true;  // logit before the affine step
  c.weights = {{"p", 1.0}};
  EXPECT_NEAR(*ComposeReward(c, {{"p", 0.5}}, false).reward, -1.0, 1e-12);
}

TEST(CompositionTest, RewardIsAbsentWhenANeededObjectiveWasNotScored) {
  EXPECT_FALSE(ComposeReward(Weighted(), {{"helpfulness", 1.0}}, false).reward.has_value());
  const ComposedReward no_safety =
      ComposeReward(Gated(), {{"helpfulness", 1.0}, {"sentiment", 1.0}}, true);
  EXPECT_FALSE(no_safety.reward.has_value());
  EXPECT_FALSE(no_safety.gated);
  EXPECT_THAT(ObjectivesNeeded(Gated()), ElementsAre("helpfulness", "sentiment", "safety"));
}

TEST(CompositionTest, PromptIsFlaggedOnlyByTheConfiguredKeyWithValueTrue) {
  CompositionOptions c = Gated();
  EXPECT_TRUE(PromptFlaggedUnsafe(c, {{"unsafe", "true"}}));
  EXPECT_FALSE(PromptFlaggedUnsafe(c, {{"unsafe", "yes"}}));
  EXPECT_FALSE(PromptFlaggedUnsafe(c, {}));
  c.gating->prompt_flag_key = "red_team";
  EXPECT_TRUE(PromptFlaggedUnsafe(c, {{"red_team", "true"}}));
  EXPECT_FALSE(PromptFlaggedUnsafe(c, {{"unsafe", "true"}}));
  EXPECT_FALSE(PromptFlaggedUnsafe(Weighted(), {{"unsafe", "true"}}));  // no gating
}

TEST(CompositionTest, NormalizeIsIdentityWithZeroStddev) {
  EXPECT_DOUBLE_EQ(Normalize(3.0, 1.0, 0.0), 3.0);
  EXPECT_DOUBLE_EQ(Normalize(3.0, 1.0, 4.0), 0.5);
}

}  // namespace
}  // namespace plumb::scorer
