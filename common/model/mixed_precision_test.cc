#include "common/model/mixed_precision.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/model/lora.h"
#include "common/model/transformer.h"

namespace plumb::model {
namespace {

ModelConfig Config() {
  ModelConfig config;
  config.vocab_size = 40;
  config.hidden_size = 32;
  config.intermediate_size = 48;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 32;
  return config;
}

// Restores automatic mode selection after each test.
class MixedPrecisionTest : public ::testing::Test {
 protected:
  ~MixedPrecisionTest() override { SetBf16GemmMode(Bf16GemmMode::kAuto); }
};

TEST_F(MixedPrecisionTest, EmulatedProductIsTheExactBf16ProductRoundedOnce) {
  torch::manual_seed(1);
  const at::Tensor a = torch::randn({37, 64});
  const at::Tensor b = torch::randn({64, 29});
  const at::Tensor a16 = a.to(at::kBFloat16), b16 = b.to(at::kBFloat16);
  // The exact product of the bf16 operands, and the size of each dot product's terms.
  const at::Tensor exact = at::matmul(a16.to(at::kDouble), b16.to(at::kDouble));
  const at::Tensor terms = at::matmul(a16.to(at::kDouble).abs(), b16.to(at::kDouble).abs());
  SetBf16GemmMode(Bf16GemmMode::kEmulated);
  at::Tensor emulated;
  {
    Bf16AutocastScope scope(true, /*cuda=*/false);
    emulated = MixedMatmul(a, b);
  }
  EXPECT_EQ(emulated.scalar_type(), at::kBFloat16);
  // One bf16 rounding (half an ulp: at most 2^-8 relative) of a float32-accumulated sum.
  const at::Tensor error = (emulated.to(at::kDouble) - exact).abs();
  EXPECT_TRUE((error <= exact.abs() / 256 + terms * 1e-6).all().item<bool>())
      << "worst: " << (error - exact.abs() / 256).max().item<double>();
  // LibTorch's own bf16 kernel on this machine is within its looser bound (on CPUs without
  // AVX-512 it rounds partial sums to bf16), so the emulation is never the less accurate one.
  const at::Tensor native = at::matmul(a16, b16).to(at::kDouble);
  EXPECT_TRUE(((native - exact).abs() <= terms / 64).all().item<bool>());
  // Really rounded: the float32 product of the unrounded inputs differs.
  EXPECT_GT((emulated.to(at::kFloat) - at::matmul(a, b)).abs().max().item<double>(), 1e-4);
  // Outside a scope the product is float32's.
  EXPECT_TRUE(torch::equal(MixedMatmul(a, b), at::matmul(a, b)));
}

// The loss and gradients of one training forward under each CPU mode.
struct Pass {
  at::Tensor loss;
  std::vector<at::Tensor> grads;
  at::ScalarType hidden_dtype;
};

Pass TrainingPass(Bf16GemmMode mode, bool enabled) {
  SetBf16GemmMode(mode);
  torch::manual_seed(7);
  Transformer model(Config());
  LoraOptions lora;
  lora.rank = 4;
  EXPECT_TRUE(ApplyLora(*model, lora).ok());
  // Non-zero B so the adapters change the forward.
  for (at::Tensor& p : TrainableParameters(*model)) {
    torch::NoGradGuard no_grad;
    p.normal_(0, 0.05);
  }
  model->train();
  const at::Tensor ids = torch::randint(40, {3, 11}, torch::kLong);
  const at::Tensor mask = torch::ones({3, 11}, torch::kLong);
  Pass pass;
  {
    Bf16AutocastScope scope(enabled, /*cuda=*/false);
    const at::Tensor hidden = model->Forward(ids, mask);
    pass.hidden_dtype = hidden.scalar_type();
    const at::Tensor logits = model->Logits(hidden).to(at::kFloat);
    pass.loss = torch::nn::functional::cross_entropy(logits.view({-1, 40}), ids.view({-1}));
  }
  pass.loss.backward();
  for (const at::Tensor& p : TrainableParameters(*model)) pass.grads.push_back(p.grad().clone());
  return pass;
}

TEST_F(MixedPrecisionTest, EmulatedTrainingPassMatchesLibTorchAutocast) {
  const Pass native = TrainingPass(Bf16GemmMode::kNative, true);
  const Pass emulated = TrainingPass(Bf16GemmMode::kEmulated, true);
  const Pass fp32 = TrainingPass(Bf16GemmMode::kEmulated, false);
  // The products go through the emulation: same dtypes as autocast, values that differ from
  // float32's, and (the per-product test bounds the numerics) a loss and gradients that agree
  // with LibTorch's autocast to its own precision.
  EXPECT_EQ(emulated.hidden_dtype, native.hidden_dtype);
  EXPECT_EQ(emulated.hidden_dtype, fp32.hidden_dtype);  // the residual stream stays float32
  EXPECT_NE(emulated.loss.item<double>(), fp32.loss.item<double>());
  EXPECT_NEAR(emulated.loss.item<double>(), native.loss.item<double>(),
              1e-3 * std::abs(native.loss.item<double>()));
  ASSERT_EQ(emulated.grads.size(), native.grads.size());
  for (size_t i = 0; i < native.grads.size(); ++i) {
    const double scale = native.grads[i].abs().max().item<double>();
    const double gap = (emulated.grads[i] - native.grads[i]).abs().max().item<double>();
    EXPECT_LE(gap, 0.05 * scale) << "gradient " << i;
  }
}

TEST_F(MixedPrecisionTest, ScopesNestAndRestoreTheOuterState) {
  SetBf16GemmMode(Bf16GemmMode::kEmulated);
  const at::Tensor a = torch::randn({4, 8}), b = torch::randn({8, 3});
  {
    Bf16AutocastScope outer(true, false);
    {
      Bf16AutocastScope disabled(false, false);
      EXPECT_EQ(MixedMatmul(a, b).scalar_type(),
                at::kBFloat16);  // a disabled scope changes nothing
    }
    { Bf16AutocastScope inner(true, false); }
    EXPECT_EQ(MixedMatmul(a, b).scalar_type(), at::kBFloat16);
  }
  EXPECT_EQ(MixedMatmul(a, b).scalar_type(), at::kFloat);
  SetBf16GemmMode(Bf16GemmMode::kNative);
  {
    Bf16AutocastScope scope(true, false);
    EXPECT_TRUE(at::autocast::is_cpu_enabled());
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
}

}  // namespace
}  // namespace plumb::model
