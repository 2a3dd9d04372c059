// Process-wide glibc malloc settings for services that move large tensors.
//
// By default glibc serves every allocation above a (dynamic, ≤ 32 MiB) threshold with a fresh
// mmap and returns freed heap tops to the kernel, so each received 100 MB tensor or 1 MiB message
// buffer is page-faulted in again (measured: ~20% of the CPU time of a loopback tensor upload).
// Keeping freed memory in the process makes the next buffer of the same size free to reuse.
// Trade-off: resident memory stays at its high-water mark, as with tcmalloc or jemalloc.
//
// Thread safety: call once at start-up, before threads allocate.
#ifndef PLUMB_COMMON_SERVICE_MALLOC_TUNING_H_
#define PLUMB_COMMON_SERVICE_MALLOC_TUNING_H_

namespace plumb::service {

// Returns false if glibc refused a setting (the process still works, just slower).
bool TuneMallocForLargeBuffers();

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_MALLOC_TUNING_H_
