// Process-wide glibc malloc settings for services that move large tensors.
//
// By default glibc serves every allocation above a (dynamic, ≤ 32 MiB) threshold with a fresh
// mmap and returns freed heap tops to the kernel, so each received 100 MB tensor or 1 MiB message
// buffer is page-faulted in again (measured: ~20% of the CPU time of a loopback tensor upload).
// Keeping freed memory in the process makes the next buffer of the same size free to reuse.
// What is kept is capped (kMaxKeptFreeBytes): a burst of large requests once grew a generator by
// 1.7 GB that it never returned, when up to 1 GiB of free heap was kept and allocations up to
// 1 GiB came from the heap. Allocations over 64 MiB are mapped and unmapped on their own.
// Training pays the same toll on activations it frees and re-allocates every step: the model
// benchmark's fp32 training step ran 0.86x PyTorch's without these settings, 1.11x with them
// (BENCHMARKS.md). glibc's MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_,
// when an operator sets them, win over these values.
//
// Thread safety: call once at start-up, before threads allocate.
#ifndef PLUMB_COMMON_SERVICE_MALLOC_TUNING_H_
#define PLUMB_COMMON_SERVICE_MALLOC_TUNING_H_

namespace plumb::service {

// Free memory at the top of the heap kept for reuse; more is returned to the kernel.
inline constexpr int kMaxKeptFreeBytes = 128 << 20;
// Allocations at least this large are their own mappings (returned to the kernel when freed).
inline constexpr int kMmapThresholdBytes = 64 << 20;

// Returns false if glibc refused a setting (the process still works, just slower).
bool TuneMallocForLargeBuffers();

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_MALLOC_TUNING_H_
