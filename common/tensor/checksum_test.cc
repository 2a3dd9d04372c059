#include "common/tensor/checksum.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <random>
#include <vector>

namespace plumb::tensor {
namespace {

TEST(ChecksumTest, EqualsTheSystemXxh3ForEverySizeClass) {
  // XXH3 takes different code paths at 16, 128 and 240 bytes and per 1 KiB stripe block.
  std::mt19937 random(3);
  std::vector<unsigned char> bytes((1 << 20) + 7);
  for (auto& b : bytes) b = static_cast<unsigned char>(random());
  for (size_t size :
       {0, 1, 3, 15, 16, 17, 128, 129, 240, 241, 1023, 1024, 1025, 65536 + 13, (1 << 20) + 7}) {
    EXPECT_EQ(Checksum(bytes.data(), size), XXH3_64bits(bytes.data(), size)) << size;
  }
}

TEST(ChecksumTest, AnyFlippedBitChangesTheChecksum) {
  std::vector<unsigned char> bytes(4096, 0x5a);
  const uint64_t original = Checksum(bytes.data(), bytes.size());
  for (size_t i : {0, 1000, 4095}) {
    bytes[i] ^= 0x10;
    EXPECT_NE(Checksum(bytes.data(), bytes.size()), original) << i;
    bytes[i] ^= 0x10;
  }
}

}  // namespace
}  // namespace plumb::tensor
