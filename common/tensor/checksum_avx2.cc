// XXH3-64 compiled for AVX2 (this file alone is built with -mavx2). Debian's libxxhash is built
// for the SSE2 baseline; on AVX2 machines this version hashes about twice as fast. Only called
// after a run-time check that the CPU has AVX2 (checksum.cc). Everything here has internal
// linkage except ChecksumAvx2, so no AVX2 code leaks into other translation units.
#define XXH_INLINE_ALL
#define XXH_VECTOR XXH_AVX2
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace plumb::tensor::internal {

uint64_t ChecksumAvx2(const void* data, size_t size) { return XXH3_64bits(data, size); }

}  // namespace plumb::tensor::internal
