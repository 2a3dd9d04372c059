// How the process keeps host memory it frees. A training step or a batch of rollouts allocates
// and frees the same large activations (tens of MB) every step. glibc's defaults hand blocks
// above its mmap threshold straight back to the kernel and trim the heap top above its trim
// threshold, so every step then page-faults and zero-fills the same memory again: measured on
// the model benchmark's fp32 training step, that cost ~15% of the step (BENCHMARKS.md).
// KeepFreedHostMemory raises both thresholds, so freed activations are reused; the peak
// resident size is unchanged (it is set by the largest step), memory is only returned later.
//
// An operator keeps control: glibc's own MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_
// environment variables, when set, win over these defaults.
//
// Thread safety: call once, early in main, before other threads allocate.
#ifndef PLUMB_COMMON_MODEL_HOST_MEMORY_H_
#define PLUMB_COMMON_MODEL_HOST_MEMORY_H_

#include <cstddef>

namespace plumb::model {

// Allocations up to this size come from the heap and are reused after free.
inline constexpr size_t kHeapAllocationLimit = size_t{64} << 20;
// Free memory at the top of the heap up to this size stays with the process.
inline constexpr size_t kRetainedFreeMemory = size_t{256} << 20;

struct HostMemoryPolicy {
  bool mmap_threshold_set = false;  // false: MALLOC_MMAP_THRESHOLD_ was set, left alone
  bool trim_threshold_set = false;  // false: MALLOC_TRIM_THRESHOLD_ was set, left alone
};

// Applies the thresholds above (glibc only; elsewhere a no-op returning both false).
HostMemoryPolicy KeepFreedHostMemory();

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_HOST_MEMORY_H_
