#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/algorithms/orpo.h"
#include "common/algorithms/sequence_logps.h"
#include "common/algorithms/simpo.h"

namespace plumb::algorithms {
namespace {

TEST(Log1mExpTest, StableNearZeroAndFarFromIt) {
  const at::Tensor x =
      torch::tensor({-1e-12, -1e-6, -0.5, -std::log(2.0), -1.0, -30.0, -800.0}, torch::kDouble)
          .requires_grad_();
  const at::Tensor y = Log1mExp(x);
  for (int64_t i = 0; i < x.size(0); ++i) {
    const long double xi = x[i].item<double>();
    const double expected = static_cast<double>(std::log(-std::expm1(xi)));
    EXPECT_NEAR(y[i].item<double>(), expected, 1e-12 * std::max(1.0, std::abs(expected)));
  }
  y.sum().backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
}

TEST(Log1mExpTest, Float32NearZeroIsFinite) {
  const at::Tensor x = torch::tensor({-1e-7f, -1e-3f}).requires_grad_();
  const at::Tensor y = Log1mExp(x);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
  y.sum().backward();
  EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>());
}

TEST(OrpoLossTest, LossIsNllPlusOddsRatioTerm) {
  const at::Tensor chosen =
      torch::tensor({{-0.5, -0.2, -0.1}, {-1.0, -0.3, 0.0}}, torch::kDouble).requires_grad_();
  const at::Tensor chosen_mask = torch::tensor({{0.0, 1.0, 1.0}, {0.0, 1.0, 0.0}}, torch::kDouble);
  const at::Tensor nll_mask = torch::tensor({{1.0, 1.0, 1.0}, {1.0, 1.0, 0.0}}, torch::kDouble);
  const at::Tensor rejected =
      torch::tensor({{-0.5, -2.0, -1.0}, {-1.0, -3.0, -0.5}}, torch::kDouble).requires_grad_();
  const at::Tensor rejected_mask =
      torch::tensor({{0.0, 1.0, 1.0}, {0.0, 1.0, 1.0}}, torch::kDouble);
  const OrpoLoss out = ComputeOrpoLoss(chosen, chosen_mask, nll_mask, rejected, rejected_mask, 0.1);
  EXPECT_NEAR(out.nll_loss.item<double>(), (0.5 + 0.2 + 0.1 + 1.0 + 0.3) / 5.0, 1e-12);
  EXPECT_NEAR(out.policy_chosen_logps[0].item<double>(), -0.15, 1e-12);
  EXPECT_TRUE(torch::allclose(out.loss, out.nll_loss + out.losses.mean()));
  EXPECT_TRUE((out.losses > 0).all().item<bool>());
  out.loss.backward();
  // The odds-ratio term pushes the rejected completion tokens down.
  EXPECT_GT(rejected.grad()[0][1].item<double>(), 0.0);
  EXPECT_EQ(rejected.grad()[0][0].item<double>(), 0.0);  // prompt token: no gradient
  EXPECT_LT(chosen.grad()[0][0].item<double>(), 0.0);    // prompt token is in the NLL
}

TEST(SimpoLossTest, MatchesClosedFormAndSkipsNllWithoutCpoAlpha) {
  const at::Tensor chosen = torch::tensor({{-1.0, -3.0}}, torch::kDouble);
  const at::Tensor rejected = torch::tensor({{-4.0, 0.0}}, torch::kDouble);
  const at::Tensor mask_c = torch::tensor({{1.0, 1.0}}, torch::kDouble);
  const at::Tensor mask_r = torch::tensor({{1.0, 0.0}}, torch::kDouble);
  SimpoOptions options;  // beta 2, gamma 1
  const SimpoLoss out = ComputeSimpoLoss(chosen, mask_c, rejected, mask_r, options);
  const double z = 2.0 * (-2.0) - 2.0 * (-4.0) - 1.0;
  EXPECT_NEAR(out.losses[0].item<double>(), std::log1p(std::exp(-z)), 1e-12);
  EXPECT_EQ(out.nll_loss.item<double>(), 0.0);
  options.cpo_alpha = 0.5;
  const SimpoLoss cpo = ComputeSimpoLoss(chosen, mask_c, rejected, mask_r, options);
  EXPECT_NEAR(cpo.nll_loss.item<double>(), 2.0, 1e-12);
  EXPECT_NEAR(cpo.loss.item<double>(), out.loss.item<double>() + 1.0, 1e-12);
}

TEST(SimpoLossTest, Bfloat16InputsWork) {
  const at::Tensor chosen = torch::tensor({{-1.0, -3.0}}, torch::kBFloat16).requires_grad_();
  const at::Tensor rejected = torch::tensor({{-4.0, -1.0}}, torch::kBFloat16).requires_grad_();
  const at::Tensor mask = torch::ones({1, 2}, torch::kBFloat16);
  const SimpoLoss out = ComputeSimpoLoss(chosen, mask, rejected, mask, SimpoOptions{});
  EXPECT_EQ(out.loss.scalar_type(), torch::kBFloat16);
  out.loss.backward();
  EXPECT_TRUE(torch::isfinite(chosen.grad().to(torch::kFloat)).all().item<bool>());
}

TEST(ValidateSimpoOptionsTest, RejectsBadValues) {
  SimpoOptions options;
  options.beta = 0.0;
  EXPECT_EQ(ValidateSimpoOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = SimpoOptions{};
  options.label_smoothing = 0.7;
  EXPECT_FALSE(ValidateSimpoOptions(options).ok());
}

TEST(ValidateOrpoBetaTest, RejectsNonPositiveOrNonFiniteBetaNamingTheField) {
  EXPECT_TRUE(ValidateOrpoBeta(0.1).ok());
  EXPECT_EQ(ValidateOrpoBeta(0.0),
            absl::InvalidArgumentError("orpo.beta: must be a finite number > 0, got 0"));
  EXPECT_FALSE(ValidateOrpoBeta(std::nan("")).ok());
  EXPECT_FALSE(ValidateOrpoBeta(INFINITY).ok());
}

}  // namespace
}  // namespace plumb::algorithms
