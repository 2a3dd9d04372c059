#include "common/tensor/checksum.h"

#include <xxhash.h>

namespace plumb::tensor {
namespace internal {
uint64_t ChecksumAvx2(const void* data, size_t size);
}  // namespace internal

uint64_t Checksum(const void* data, size_t size) {
#if defined(__x86_64__)
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2) return internal::ChecksumAvx2(data, size);
#endif
  return XXH3_64bits(data, size);
}

}  // namespace plumb::tensor
