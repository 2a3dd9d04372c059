#include "common/algorithms/dpo.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/status/torch_status.h"

namespace plumb::algorithms {
namespace {

struct Inputs {
  at::Tensor pc, pr, rc, rr;
};

Inputs MakeInputs(torch::Dtype dtype = torch::kDouble) {
  auto opts = torch::TensorOptions().dtype(dtype);
  return {torch::tensor({-10.0, -12.0, -8.0}, opts).requires_grad_(),
          torch::tensor({-11.0, -9.0, -15.0}, opts).requires_grad_(),
          torch::tensor({-10.5, -11.0, -9.0}, opts).requires_grad_(),
          torch::tensor({-10.0, -10.0, -14.0}, opts).requires_grad_()};
}

TEST(DpoLossTest, GradientRaisesChosenAndLowersRejected) {
  for (const char* type : {"sigmoid", "hinge", "ipo", "robust"}) {
    SCOPED_TRACE(type);
    Inputs in = MakeInputs();
    DpoOptions options;
    options.loss_type = type;
    if (options.loss_type == "robust") options.label_smoothing = 0.1;
    DpoLoss(in.pc, in.pr, in.rc, in.rr, at::Tensor(), at::Tensor(), options).loss.backward();
    // Gradient descent moves chosen log-probs up (negative gradient) and rejected down.
    EXPECT_TRUE((in.pc.grad() <= 0).all().item<bool>());
    EXPECT_TRUE((in.pr.grad() >= 0).all().item<bool>());
    EXPECT_LT(in.pc.grad().sum().item<double>(), 0.0);
  }
}

TEST(DpoLossTest, ReferenceTermsGetNoGradient) {
  Inputs in = MakeInputs();
  const PreferenceLoss out =
      DpoLoss(in.pc, in.pr, in.rc, in.rr, at::Tensor(), at::Tensor(), DpoOptions{});
  out.loss.backward();
  EXPECT_FALSE(in.rc.grad().defined());
  EXPECT_FALSE(in.rr.grad().defined());
  EXPECT_FALSE(out.chosen_rewards.requires_grad());
  EXPECT_FALSE(out.rejected_rewards.requires_grad());
}

TEST(DpoLossTest, SigmoidMatchesClosedForm) {
  Inputs in = MakeInputs();
  DpoOptions options;
  options.beta = 0.5;
  const PreferenceLoss out =
      DpoLoss(in.pc, in.pr, in.rc, in.rr, at::Tensor(), at::Tensor(), options);
  const at::Tensor h = (in.pc - in.pr) - (in.rc - in.rr);
  EXPECT_TRUE(torch::allclose(out.losses, -at::log_sigmoid(0.5 * h)));
  EXPECT_TRUE(torch::allclose(out.loss, out.losses.mean()));
}

TEST(DpoLossTest, IpoMeanDividesByLengths) {
  Inputs in = MakeInputs();
  DpoOptions options;
  options.loss_type = "ipo";
  options.ipo_log_ratio = "mean";
  const at::Tensor lc = torch::tensor({2, 0, 4});  // 0 is clamped to 1
  const at::Tensor lr = torch::tensor({1, 3, 5});
  const PreferenceLoss out = DpoLoss(in.pc, in.pr, in.rc, in.rr, lc, lr, options);
  const at::Tensor expected =
      ((in.pc - in.rc) / torch::tensor({2.0, 1.0, 4.0}, torch::kDouble) -
       (in.pr - in.rr) / torch::tensor({1.0, 3.0, 5.0}, torch::kDouble) - 1.0 / (2 * 0.1))
          .pow(2);
  EXPECT_TRUE(torch::allclose(out.losses, expected));
}

TEST(DpoLossTest, Float32AndBfloat16InputsWork) {
  for (torch::Dtype dtype : {torch::kFloat, torch::kBFloat16}) {
    Inputs in = MakeInputs(dtype);
    const PreferenceLoss out =
        DpoLoss(in.pc, in.pr, in.rc, in.rr, at::Tensor(), at::Tensor(), DpoOptions{});
    EXPECT_EQ(out.loss.scalar_type(), dtype);
    out.loss.backward();
    EXPECT_EQ(in.pc.grad().scalar_type(), dtype);
  }
}

TEST(ValidateDpoOptionsTest, RejectsInvalidOptions) {
  EXPECT_TRUE(ValidateDpoOptions(DpoOptions{}).ok());
  DpoOptions bad;
  bad.loss_type = "exo";
  EXPECT_EQ(ValidateDpoOptions(bad).code(), absl::StatusCode::kInvalidArgument);
  bad = DpoOptions{};
  bad.beta = 0.0;
  EXPECT_FALSE(ValidateDpoOptions(bad).ok());
  bad = DpoOptions{};
  bad.label_smoothing = 0.5;
  EXPECT_FALSE(ValidateDpoOptions(bad).ok());
  bad = DpoOptions{};
  bad.loss_type = "hinge";
  bad.label_smoothing = 0.1;
  EXPECT_FALSE(ValidateDpoOptions(bad).ok());
  bad = DpoOptions{};
  bad.ipo_log_ratio = "max";
  EXPECT_FALSE(ValidateDpoOptions(bad).ok());
}

TEST(DpoLossTest, InvalidOptionsThrow) {
  Inputs in = MakeInputs();
  DpoOptions bad;
  bad.loss_type = "unknown";
  EXPECT_THROW(DpoLoss(in.pc, in.pr, in.rc, in.rr, at::Tensor(), at::Tensor(), bad), c10::Error);
}

// An option a caller failed to validate reaches the loss as a ValueError: the model boundary
// reports INVALID_ARGUMENT naming the field (a plain TORCH_CHECK read INTERNAL).
TEST(DpoLossTest, AnUnvalidatedOptionIsInvalidArgumentNamingTheFieldAtTheModelBoundary) {
  Inputs in = MakeInputs();
  DpoOptions bad;
  bad.beta = 0.0;
  const absl::Status status = TorchBoundary("DPO update", [&]() -> absl::Status {
    DpoLoss(in.pc, in.pr, in.rc, in.rr, at::Tensor(), at::Tensor(), bad);
    return absl::OkStatus();
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(status.message().rfind("DPO update: dpo.beta: must be > 0, got 0", 0), 0u) << status;
}

}  // namespace
}  // namespace plumb::algorithms
