#include "common/algorithms/masking.h"

#include <torch/torch.h>

namespace plumb::algorithms {

at::Tensor MaskedSum(const at::Tensor& x, const at::Tensor& mask) { return (x * mask).sum(); }

at::Tensor MaskedSum(const at::Tensor& x, const at::Tensor& mask, int64_t dim) {
  return (x * mask).sum(dim);
}

at::Tensor MaskedMean(const at::Tensor& x, const at::Tensor& mask) {
  return (x * mask).sum() / mask.sum();
}

at::Tensor MaskedMean(const at::Tensor& x, const at::Tensor& mask, int64_t dim) {
  return (x * mask).sum(dim) / mask.sum(dim);
}

at::Tensor SequenceMeanOfMaskedMeans(const at::Tensor& x, const at::Tensor& mask) {
  const at::Tensor n_tokens = mask.sum(-1);
  const at::Tensor per_row = (x * mask).sum(-1) / (n_tokens + 1e-8);
  const at::Tensor valid = (n_tokens > 0).to(per_row.scalar_type());
  return (per_row * valid).sum() / valid.sum().clamp_min(1.0);
}

}  // namespace plumb::algorithms
