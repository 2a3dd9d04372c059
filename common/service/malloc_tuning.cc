#include "common/service/malloc_tuning.h"

#include <malloc.h>

namespace plumb::service {

bool TuneMallocForLargeBuffers() {
  bool ok = true;
  // Allocations up to 64 MiB (message buffers, weight chunks, activations) come from the heap and
  // are reused after free...
  ok &= mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes) == 1;
  // ...and up to 128 MiB of freed memory is kept rather than handed back to the kernel at once.
  ok &= mallopt(M_TRIM_THRESHOLD, kMaxKeptFreeBytes) == 1;
  ok &= mallopt(M_TOP_PAD, 16 << 20) == 1;
  return ok;
}

}  // namespace plumb::service
