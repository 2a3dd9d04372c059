// bf16 mixed precision for the model's forward passes: float32 weights, matrix products with bf16
// operands and bf16 results, float32 accumulation (what LibTorch's autocast does), on every device.
//
// Why not plain autocast everywhere: on a CPU without AVX-512 (BW, VL, DQ) LibTorch has no bf16
// GEMM kernel and falls back to a scalar loop ~25x slower than its float32 GEMM, so bf16 training
// ran far slower than float32. There the scope EMULATES autocast instead: each of the model's
// products rounds its operands to bf16, multiplies them with the float32 GEMM (products of bf16
// values are exact in float32) and rounds the result to bf16 once. Tensors carry the dtypes
// autocast gives them, and each product is as close to the exact product of the bf16 operands as
// a float32-accumulating kernel (oneDNN, cuBLAS) gets it; LibTorch's fallback loop, which rounds
// partial sums, is further off. On CUDA and on CPUs with native bf16 kernels the scope enables
// LibTorch's autocast.
//
// Thread safety: the scope and the emulation flag are per thread (like LibTorch's autocast
// state); SetBf16GemmMode is process-wide and meant for start-up, tests and benchmarks.
#ifndef PLUMB_COMMON_MODEL_MIXED_PRECISION_H_
#define PLUMB_COMMON_MODEL_MIXED_PRECISION_H_

#include <ATen/core/Tensor.h>

namespace plumb::model {

// How a CPU Bf16AutocastScope runs products: kAuto follows the environment variable
// PLUMB_BF16_GEMM (native | emulated) when set, else picks kNative when the CPU has LibTorch's
// bf16 GEMM (AVX-512 BW + VL + DQ, oneDNN) and kEmulated otherwise.
enum class Bf16GemmMode { kAuto, kNative, kEmulated };
void SetBf16GemmMode(Bf16GemmMode mode);
// True when CPU scopes emulate (the mode, with kAuto resolved for this CPU).
bool CpuBf16GemmIsEmulated();

// bf16 autocast for the model's forwards on this thread for the scope's lifetime; a no-op when
// `enabled` is false. Scopes nest; the outer state comes back on destruction.
class Bf16AutocastScope {
 public:
  Bf16AutocastScope(bool enabled, bool cuda);
  ~Bf16AutocastScope();
  Bf16AutocastScope(const Bf16AutocastScope&) = delete;
  Bf16AutocastScope& operator=(const Bf16AutocastScope&) = delete;

 private:
  enum class Kind { kOff, kCuda, kCpuNative, kCpuEmulated };
  Kind kind_ = Kind::kOff;
  bool previous_ = false;
};

// at::matmul(a, b), or inside an emulating scope the emulated bf16 product described above. Every
// product of the model goes through it.
at::Tensor MixedMatmul(const at::Tensor& a, const at::Tensor& b);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_MIXED_PRECISION_H_
