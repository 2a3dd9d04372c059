// Reductions of per-token log-probs [B, T] to per-sequence numbers, shared by the reference-free
// preference losses (ORPO, SimPO). Token log-probs are 0 or masked outside the mask.
#ifndef PLUMB_COMMON_ALGORITHMS_SEQUENCE_LOGPS_H_
#define PLUMB_COMMON_ALGORITHMS_SEQUENCE_LOGPS_H_

#include <ATen/core/Tensor.h>

namespace plumb::algorithms {

// a_b = sum_t lp[b,t] m[b,t] / sum_t m[b,t]: [B]. A row with an empty mask gives NaN.
at::Tensor LengthAveragedLogps(const at::Tensor& token_logps, const at::Tensor& mask);

// Token-mean negative log-likelihood over the whole batch: -sum(lp * m) / sum(m), 0-dim.
at::Tensor TokenMeanNll(const at::Tensor& token_logps, const at::Tensor& mask);

// log(1 - exp(x)) for x <= 0, stable at both ends (Maechler 2012): log(-expm1(x)) for
// x > -ln 2, log1p(-exp(x)) otherwise. Gradients stay finite for every x < 0.
at::Tensor Log1mExp(const at::Tensor& x);

}  // namespace plumb::algorithms

#endif  // PLUMB_COMMON_ALGORITHMS_SEQUENCE_LOGPS_H_
