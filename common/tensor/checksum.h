// The checksum carried by TensorChunk: XXH3-64 (seed 0) of a byte range. Uses an AVX2 build of
// XXH3 when the CPU has AVX2, the system libxxhash otherwise; both give identical values.
//
// Thread safety: reentrant.
#ifndef PLUMB_COMMON_TENSOR_CHECKSUM_H_
#define PLUMB_COMMON_TENSOR_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace plumb::tensor {

uint64_t Checksum(const void* data, size_t size);

}  // namespace plumb::tensor

#endif  // PLUMB_COMMON_TENSOR_CHECKSUM_H_
