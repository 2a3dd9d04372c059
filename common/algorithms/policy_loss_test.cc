#include "common/algorithms/policy_loss.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(PpoPolicyLossTest, UnclippedLossIsMinusRatioTimesAdvantage) {
  const at::Tensor lp = torch::tensor({{-1.0, -1.0}}, torch::kDouble).requires_grad_();
  const at::Tensor old = torch::tensor({{-1.0, -1.0}}, torch::kDouble);
  const at::Tensor adv = torch::tensor({{1.0, -2.0}}, torch::kDouble);
  const at::Tensor mask = torch::ones({1, 2}, torch::kDouble);
  const PolicyLossResult out = PpoPolicyLoss(lp, old, adv, mask, PolicyLossOptions{});
  EXPECT_NEAR(out.loss.item<double>(), 0.5, 1e-12);
  EXPECT_EQ(out.clip_ratio.item<double>(), 0.0);
  out.loss.backward();
  // d(-ratio A)/d lp = -A / n_tokens at ratio 1: raise the positive-advantage token.
  EXPECT_NEAR(lp.grad()[0][0].item<double>(), -0.5, 1e-12);
  EXPECT_NEAR(lp.grad()[0][1].item<double>(), 1.0, 1e-12);
}

TEST(PpoPolicyLossTest, ClippedTokensGetNoGradient) {
  const at::Tensor lp = torch::tensor({{std::log(2.0)}}, torch::kDouble).requires_grad_();
  const at::Tensor old = torch::zeros({1, 1}, torch::kDouble);
  const at::Tensor adv = torch::ones({1, 1}, torch::kDouble);
  const PolicyLossResult out =
      PpoPolicyLoss(lp, old, adv, torch::ones({1, 1}, torch::kDouble), PolicyLossOptions{});
  EXPECT_NEAR(out.loss.item<double>(), -1.2, 1e-12);
  EXPECT_EQ(out.clip_ratio.item<double>(), 1.0);
  out.loss.backward();
  EXPECT_EQ(lp.grad()[0][0].item<double>(), 0.0);
}

TEST(PpoPolicyLossTest, DualClipBoundsNegativeAdvantageLoss) {
  const at::Tensor lp = torch::tensor({{std::log(10.0)}}, torch::kDouble);
  const at::Tensor old = torch::zeros({1, 1}, torch::kDouble);
  const at::Tensor adv = -torch::ones({1, 1}, torch::kDouble);
  const at::Tensor mask = torch::ones({1, 1}, torch::kDouble);
  PolicyLossOptions options;
  EXPECT_NEAR(PpoPolicyLoss(lp, old, adv, mask, options).loss.item<double>(), 10.0, 1e-9);
  options.dual_clip = 3.0;
  EXPECT_NEAR(PpoPolicyLoss(lp, old, adv, mask, options).loss.item<double>(), 3.0, 1e-9);
}

TEST(PpoPolicyLossTest, KlPenaltyInLossAddsK3Term) {
  const at::Tensor lp = torch::tensor({{-1.0, -2.0}}, torch::kDouble).requires_grad_();
  const at::Tensor ref = torch::tensor({{-1.5, -1.0}}, torch::kDouble);
  const at::Tensor adv = torch::zeros({1, 2}, torch::kDouble);
  const at::Tensor mask = torch::ones({1, 2}, torch::kDouble);
  PolicyLossOptions options;
  options.kl_loss_coef = 0.1;
  const PolicyLossResult out = PpoPolicyLoss(lp, lp.detach(), adv, mask, options, ref);
  const at::Tensor d = lp.detach() - ref;
  const double k3 = (torch::exp(-d) - 1 + d).mean().item<double>();
  EXPECT_NEAR(out.kl_loss.item<double>(), k3, 1e-12);
  EXPECT_NEAR(out.loss.item<double>(), 0.1 * k3, 1e-12);
  out.loss.backward();
  EXPECT_TRUE(lp.grad().abs().sum().item<double>() > 0.0);
  EXPECT_THROW(PpoPolicyLoss(lp, lp.detach(), adv, mask, options), c10::Error);
}

TEST(PpoPolicyLossTest, SequenceLevelReductionWeighsRowsEqually) {
  const at::Tensor lp = torch::zeros({2, 3}, torch::kDouble);
  const at::Tensor adv = torch::tensor({{1.0, 1.0, 1.0}, {4.0, 0.0, 0.0}}, torch::kDouble);
  const at::Tensor mask = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 0.0, 0.0}}, torch::kDouble);
  PolicyLossOptions options;
  EXPECT_NEAR(PpoPolicyLoss(lp, lp, adv, mask, options).loss.item<double>(), -7.0 / 4.0, 1e-12);
  options.token_level = false;
  EXPECT_NEAR(PpoPolicyLoss(lp, lp, adv, mask, options).loss.item<double>(), -2.5, 1e-7);
}

TEST(ValidatePolicyLossOptionsTest, RejectsBadClipping) {
  PolicyLossOptions options;
  options.dual_clip = 1.0;
  EXPECT_EQ(ValidatePolicyLossOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = PolicyLossOptions{};
  options.clip_eps_low = 1.0;
  EXPECT_FALSE(ValidatePolicyLossOptions(options).ok());
}

TEST(ClippedValueLossTest, TakesTheLargerOfClippedAndUnclippedError) {
  const at::Tensor values = torch::tensor({{2.0}}, torch::kDouble).requires_grad_();
  const at::Tensor old = torch::tensor({{0.0}}, torch::kDouble);
  const at::Tensor returns = torch::tensor({{3.0}}, torch::kDouble);
  const at::Tensor mask = torch::ones({1, 1}, torch::kDouble);
  // Clipped value 0.2: (0.2 - 3)^2 = 7.84 > (2 - 3)^2 = 1.
  EXPECT_NEAR(ClippedValueLoss(values, old, returns, mask, 0.2, true).item<double>(), 0.5 * 7.84,
              1e-12);
  EXPECT_NEAR(ClippedValueLoss(values, old, returns, mask, std::nullopt, true).item<double>(), 0.5,
              1e-12);
}

TEST(MaskedEntropyTest, UniformLogitsGiveLogV) {
  const at::Tensor logits = torch::zeros({2, 3, 5}, torch::kFloat);
  const at::Tensor mask = torch::ones({2, 3});
  EXPECT_NEAR(MaskedEntropy(logits, mask).item<float>(), std::log(5.0f), 1e-6);
  const at::Tensor peaked = torch::tensor({{{100.0f, 0.0f}}});
  EXPECT_NEAR(MaskedEntropy(peaked, torch::ones({1, 1})).item<float>(), 0.0f, 1e-6);
}

TEST(PpoPolicyLossTest, Bfloat16InputsWork) {
  const at::Tensor lp = torch::tensor({{-1.0, -2.0}}, torch::kBFloat16).requires_grad_();
  const at::Tensor old = torch::tensor({{-1.1, -1.9}}, torch::kBFloat16);
  const at::Tensor adv = torch::tensor({{1.0, -1.0}}, torch::kBFloat16);
  const at::Tensor mask = torch::ones({1, 2}, torch::kBFloat16);
  const PolicyLossResult out = PpoPolicyLoss(lp, old, adv, mask, PolicyLossOptions{});
  EXPECT_EQ(out.loss.scalar_type(), torch::kBFloat16);
  out.loss.backward();
  EXPECT_TRUE(lp.grad().defined());
}

}  // namespace
}  // namespace plumb::algorithms
