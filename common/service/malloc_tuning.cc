#include "common/service/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>

namespace plumb::service {

namespace {

// mallopt(option, value) unless the operator set glibc's environment variable for it.
bool SetUnlessConfigured(int option, const char* variable, int value) {
  if (std::getenv(variable) != nullptr) return true;
  return mallopt(option, value) == 1;
}

}  // namespace

bool TuneMallocForLargeBuffers() {
  bool ok = true;
  // Allocations up to 64 MiB (message buffers, weight chunks, activations) come from the heap and
  // are reused after free...
  ok &= SetUnlessConfigured(M_MMAP_THRESHOLD, "MALLOC_MMAP_THRESHOLD_", kMmapThresholdBytes);
  // ...and up to 128 MiB of freed memory is kept rather than handed back to the kernel at once.
  ok &= SetUnlessConfigured(M_TRIM_THRESHOLD, "MALLOC_TRIM_THRESHOLD_", kMaxKeptFreeBytes);
  ok &= SetUnlessConfigured(M_TOP_PAD, "MALLOC_TOP_PAD_", 16 << 20);
  return ok;
}

}  // namespace plumb::service
