#include "common/service/malloc_tuning.h"

#include <malloc.h>

namespace plumb::service {

bool TuneMallocForLargeBuffers() {
  bool ok = true;
  // Allocations up to 1 GiB come from the heap and are reused after free...
  ok &= mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1;
  // ...and freed memory is not handed back to the kernel at once.
  ok &= mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  ok &= mallopt(M_TOP_PAD, 256 << 20) == 1;
  return ok;
}

}  // namespace plumb::service
