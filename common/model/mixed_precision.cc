#include "common/model/mixed_precision.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace plumb::model {
namespace {

std::atomic<Bf16GemmMode> gemm_mode{Bf16GemmMode::kAuto};
thread_local bool emulating = false;

bool CpuHasNativeBf16Gemm() {
#if defined(__x86_64__) || defined(__i386__)
  // LibTorch routes CPU bf16 products to oneDNN only on AVX-512 BW/VL/DQ machines.
  static const bool native = __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") &&
                             __builtin_cpu_supports("avx512dq");
  return native;
#else
  return true;  // other architectures: trust LibTorch's kernels
#endif
}

at::Tensor RoundedToBf16(const at::Tensor& t) {
  return t.scalar_type() == at::kBFloat16 ? t.to(at::kFloat) : t.to(at::kBFloat16).to(at::kFloat);
}

}  // namespace

void SetBf16GemmMode(Bf16GemmMode mode) { gemm_mode.store(mode); }

bool CpuBf16GemmIsEmulated() {
  switch (gemm_mode.load()) {
    case Bf16GemmMode::kNative:
      return false;
    case Bf16GemmMode::kEmulated:
      return true;
    case Bf16GemmMode::kAuto:
      break;
  }
  // An operator may override the CPU check (e.g. where oneDNN's bf16 kernels exist but are slower
  // than the emulation): PLUMB_BF16_GEMM=native|emulated.
  static const char* const forced = std::getenv("PLUMB_BF16_GEMM");
  if (forced != nullptr && std::strcmp(forced, "native") == 0) return false;
  if (forced != nullptr && std::strcmp(forced, "emulated") == 0) return true;
  return !CpuHasNativeBf16Gemm();
}

Bf16AutocastScope::Bf16AutocastScope(bool enabled, bool cuda) {
  if (!enabled) return;
  if (cuda) {
    kind_ = Kind::kCuda;
    previous_ = at::autocast::is_enabled();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  } else if (CpuBf16GemmIsEmulated()) {
    kind_ = Kind::kCpuEmulated;
    previous_ = emulating;
    emulating = true;
  } else {
    kind_ = Kind::kCpuNative;
    previous_ = at::autocast::is_cpu_enabled();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
}

Bf16AutocastScope::~Bf16AutocastScope() {
  switch (kind_) {
    case Kind::kOff:
      return;
    case Kind::kCpuEmulated:
      emulating = previous_;
      return;
    case Kind::kCuda:
      at::autocast::set_enabled(previous_);
      break;
    case Kind::kCpuNative:
      at::autocast::set_cpu_enabled(previous_);
      break;
  }
  // The cast weights autocast cached for this region go with its outermost scope.
  if (!previous_) at::autocast::clear_cache();
}

at::Tensor MixedMatmul(const at::Tensor& a, const at::Tensor& b) {
  if (!emulating || !a.is_floating_point() || !b.is_floating_point() || !a.device().is_cpu()) {
    return at::matmul(a, b);
  }
  return at::matmul(RoundedToBf16(a), RoundedToBf16(b)).to(at::kBFloat16);
}

}  // namespace plumb::model
