// Masked reductions shared by every objective. Masks are 0/1 (float or bool) and broadcast
// against x; an all-zero mask gives 0/0 = NaN, as in OpenRLHF's masked_mean (no epsilon).
#ifndef PLUMB_COMMON_ALGORITHMS_MASKING_H_
#define PLUMB_COMMON_ALGORITHMS_MASKING_H_

#include <cstdint>

#include <ATen/core/Tensor.h>

namespace plumb::algorithms {

// sum(x * mask) over every element: a 0-dim tensor.
at::Tensor MaskedSum(const at::Tensor& x, const at::Tensor& mask);
// sum(x * mask) along `dim` (dim removed).
at::Tensor MaskedSum(const at::Tensor& x, const at::Tensor& mask, int64_t dim);

// sum(x * mask) / sum(mask) over every element: a 0-dim tensor.
at::Tensor MaskedMean(const at::Tensor& x, const at::Tensor& mask);
// sum(x * mask, dim) / sum(mask, dim) (dim removed); a row with no valid element gives NaN.
at::Tensor MaskedMean(const at::Tensor& x, const at::Tensor& mask, int64_t dim);

// Mean of the per-row masked means over the rows that have at least one valid token
// (x, mask: [B, T]); rows are weighted equally whatever their length. 0 if no row is valid.
// Denominator per row is n_tokens + 1e-8, as in OpenRLHF's sequence-level reduction.
at::Tensor SequenceMeanOfMaskedMeans(const at::Tensor& x, const at::Tensor& mask);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_MASKING_H_
