#include "common/algorithms/rrhf.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace plumb::algorithms {
namespace {

TEST(RrhfLossTest, PaperModeDividesByResponseLength) {
  const at::Tensor logps =
      torch::tensor({{0.0, -2.0, -2.0, 0.0}, {0.0, -1.0, -1.0, -1.0}}, torch::kDouble);
  const at::Tensor mask =
      torch::tensor({{0.0, 1.0, 1.0, 0.0}, {0.0, 1.0, 1.0, 1.0}}, torch::kDouble);
  const at::Tensor rw = torch::tensor({1.0, 0.0}, torch::kDouble);
  RrhfOptions options;
  const RrhfLoss paper = ComputeRrhfLoss(logps, mask, rw, options);
  EXPECT_NEAR(paper.scores[0].item<double>(), -2.0, 1e-12);
  EXPECT_NEAR(paper.scores[1].item<double>(), -1.0, 1e-12);
  // Candidate 0 is better by reward but scores lower: rank loss = p_1 - p_0 = 1.
  EXPECT_NEAR(paper.rank_loss.item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(paper.sft_loss.item<double>(), 4.0, 1e-12);  // the paper: -sum(best)
  options.length_mode = "padded";
  options.sft_reduction = "padded_mean";
  const RrhfLoss padded = ComputeRrhfLoss(logps, mask, rw, options);
  EXPECT_NEAR(padded.scores[0].item<double>(), -1.0, 1e-12);
  EXPECT_NEAR(padded.scores[1].item<double>(), -0.75, 1e-12);
  EXPECT_NEAR(padded.sft_loss.item<double>(), 4.0 / 4.0, 1e-12);  // -sum(best) / L
}

TEST(RrhfLossTest, TiedRewardsGiveNoPairAndFirstBestWins) {
  const at::Tensor logps = torch::tensor({{-1.0, -1.0}, {-3.0, -3.0}}, torch::kDouble);
  const at::Tensor mask = torch::ones({2, 2}, torch::kDouble);
  const at::Tensor rw = torch::tensor({0.5, 0.5}, torch::kDouble);
  const RrhfLoss out = ComputeRrhfLoss(logps, mask, rw, RrhfOptions{});
  EXPECT_EQ(out.rank_loss.item<double>(), 0.0);
  EXPECT_NEAR(out.sft_loss.item<double>(), 2.0, 1e-12);  // candidate 0, summed
}

TEST(RrhfLossTest, GradientFlowsToTokenLogps) {
  const at::Tensor logps =
      torch::tensor({{-2.0, -2.0}, {-0.5, -0.5}}, torch::kFloat).requires_grad_();
  const at::Tensor mask = torch::ones({2, 2});
  const at::Tensor rw = torch::tensor({1.0f, 0.0f});
  ComputeRrhfLoss(logps, mask, rw, RrhfOptions{}).loss.backward();
  EXPECT_LT(logps.grad()[0][0].item<float>(), 0.0f);  // raise the better candidate
  EXPECT_GT(logps.grad()[1][0].item<float>(), 0.0f);  // lower the worse one
}

TEST(ValidateRrhfOptionsTest, RejectsUnknownModes) {
  RrhfOptions options;
  options.length_mode = "tokens";
  EXPECT_EQ(ValidateRrhfOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = RrhfOptions{};
  options.sft_reduction = "mean";
  EXPECT_FALSE(ValidateRrhfOptions(options).ok());
}

}  // namespace
}  // namespace plumb::algorithms
