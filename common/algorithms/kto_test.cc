#include "common/algorithms/kto.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(KtoKlEstimateTest, IsDetachedAndClampedAtZero) {
  const at::Tensor policy = torch::tensor({-5.0, -6.0}, torch::kDouble).requires_grad_();
  const at::Tensor ref = torch::tensor({-4.0, -4.0}, torch::kDouble);
  const at::Tensor kl = KtoKlEstimate(policy, ref, KtoOptions{});
  EXPECT_FALSE(kl.requires_grad());
  EXPECT_EQ(kl.item<double>(), 0.0);  // mean -1.5 clamped
}

TEST(KtoKlEstimateTest, NonzeroRowsIgnoresEmptyRows) {
  const at::Tensor policy = torch::tensor({-3.0, 0.0, -1.0}, torch::kDouble);
  const at::Tensor ref = torch::tensor({-4.0, 0.0, -3.0}, torch::kDouble);
  KtoOptions trl;
  EXPECT_DOUBLE_EQ(KtoKlEstimate(policy, ref, trl).item<double>(), 1.0);
  KtoOptions halos;
  halos.kl_average = "nonzero_rows";
  EXPECT_DOUBLE_EQ(KtoKlEstimate(policy, ref, halos).item<double>(), 1.5);
}

TEST(KtoLossTest, OrdersDesirableFirstAndWeights) {
  const at::Tensor policy = torch::tensor({-1.0, -2.0, -3.0}, torch::kDouble).requires_grad_();
  const at::Tensor ref = torch::tensor({-2.0, -2.0, -2.0}, torch::kDouble);
  const at::Tensor labels = torch::tensor({false, true, false});
  KtoOptions options;
  options.undesirable_weight = 2.0;
  const at::Tensor kl = torch::tensor(0.5, torch::kDouble);
  const KtoLoss out = ComputeKtoLoss(policy, ref, labels, kl, options);
  ASSERT_EQ(out.losses.size(0), 3);
  const double r_desirable = 0.0;  // -2 - -2
  EXPECT_NEAR(out.losses[0].item<double>(),
              1.0 - 1.0 / (1.0 + std::exp(-0.1 * (r_desirable - 0.5))), 1e-12);
  EXPECT_NEAR(out.losses[1].item<double>(), 2.0 * out.rejected_losses[0].item<double>(), 1e-12);
  EXPECT_NEAR(out.chosen_rewards[0].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(out.rejected_logratios[1].item<double>(), -1.0, 1e-12);
  EXPECT_NEAR(out.rejected_rewards[1].item<double>(), -0.1, 1e-12);
}

TEST(KtoLossTest, GradientRaisesDesirableAndLowersUndesirable) {
  const at::Tensor policy = torch::tensor({-1.0, -2.0}, torch::kFloat).requires_grad_();
  const at::Tensor ref = torch::tensor({-1.5, -1.5}, torch::kFloat);
  const at::Tensor labels = torch::tensor({true, false});
  ComputeKtoLoss(policy, ref, labels, torch::tensor(0.1f), KtoOptions{}).loss.backward();
  EXPECT_LT(policy.grad()[0].item<float>(), 0.0f);
  EXPECT_GT(policy.grad()[1].item<float>(), 0.0f);
}

TEST(ValidateKtoOptionsTest, RejectsUnknownKlAverage) {
  KtoOptions options;
  options.kl_average = "median";
  EXPECT_EQ(ValidateKtoOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = KtoOptions{};
  options.beta = -1.0;
  EXPECT_FALSE(ValidateKtoOptions(options).ok());
}

}  // namespace
}  // namespace plumb::algorithms
