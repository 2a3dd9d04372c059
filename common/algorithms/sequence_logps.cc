#include "common/algorithms/sequence_logps.h"

#include <cmath>

#include <torch/torch.h>

namespace plumb::algorithms {

at::Tensor LengthAveragedLogps(const at::Tensor& token_logps, const at::Tensor& mask) {
  return (token_logps * mask).sum(-1) / mask.sum(-1);
}

at::Tensor TokenMeanNll(const at::Tensor& token_logps, const at::Tensor& mask) {
  return -(token_logps * mask).sum() / mask.sum();
}

at::Tensor Log1mExp(const at::Tensor& x) {
  const double kMinusLn2 = -std::log(2.0);
  // Each branch sees only inputs from its own range, so the unused branch never produces an
  // infinite value whose zero-weighted gradient would turn into NaN.
  const at::Tensor near_zero = at::log(-at::expm1(x.clamp_min(kMinusLn2)));
  const at::Tensor far = at::log1p(-at::exp(x.clamp_max(kMinusLn2)));
  return at::where(x > kMinusLn2, near_zero, far);
}

}  // namespace plumb::algorithms
