#include "common/model/host_memory.h"

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace plumb::model {

HostMemoryPolicy KeepFreedHostMemory() {
  HostMemoryPolicy policy;
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) {
    policy.mmap_threshold_set =
        mallopt(M_MMAP_THRESHOLD, static_cast<int>(kHeapAllocationLimit)) == 1;
  }
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) {
    policy.trim_threshold_set =
        mallopt(M_TRIM_THRESHOLD, static_cast<int>(kRetainedFreeMemory)) == 1;
  }
#endif
  return policy;
}

}  // namespace plumb::model
