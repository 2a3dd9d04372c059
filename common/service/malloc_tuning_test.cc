#include "common/service/malloc_tuning.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace plumb::service {
namespace {

// Reads /proc/self/statm without allocating: a heap allocation made while measuring could sit
// above the freed buffers and keep glibc from trimming the heap top.
int64_t ResidentBytes() {
  char text[128] = {};
  const int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return -1;
  const ssize_t n = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (n <= 0) return -1;
  long long size = 0, resident = 0;
  if (std::sscanf(text, "%lld %lld", &size, &resident) != 2) return -1;
  return resident * sysconf(_SC_PAGESIZE);
}

// A burst of 4 MiB buffers (a tokenized prompt, a batch of messages) freed again: the memory goes
// back to the kernel beyond the capped amount. With the old tuning (1 GiB kept) the process kept
// all 320 MiB.
TEST(MallocTuningTest, MemoryFreedAfterABurstIsReturnedBeyondTheCap) {
  ASSERT_TRUE(TuneMallocForLargeBuffers());
  const int64_t before = ResidentBytes();
  std::vector<char*> buffers;
  buffers.reserve(80);  // no vector storage allocated above the buffers mid-burst
  for (int i = 0; i < 80; ++i) {
    char* buffer = static_cast<char*>(std::malloc(4 << 20));
    ASSERT_NE(buffer, nullptr);
    std::memset(buffer, i, 4 << 20);  // touch every page
    buffers.push_back(buffer);
  }
  const int64_t peak = ResidentBytes();
  EXPECT_GT(peak - before, 300ll << 20);
  for (auto it = buffers.rbegin(); it != buffers.rend(); ++it) std::free(*it);
  const int64_t after = ResidentBytes();
  EXPECT_LT(after - before, static_cast<int64_t>(kMaxKeptFreeBytes) + (48ll << 20))
      << "resident memory stayed " << (after - before) / (1 << 20) << " MiB above the start";
}

// A training step frees and re-allocates the same activations every step: a 40 MiB block
// (above glibc's default mmap threshold, at most 32 MiB; LibTorch's CPU allocator is
// posix_memalign) comes from the heap and stays with the process once freed, instead of being
// page-faulted in again next step.
TEST(MallocTuningTest, TrainingActivationsAreReusedNotMappedAgain) {
  ASSERT_TRUE(TuneMallocForLargeBuffers());
  const size_t mapped_before = mallinfo2().hblkhd;
  void* activations = nullptr;
  ASSERT_EQ(posix_memalign(&activations, 64, size_t{40} << 20), 0);
  std::memset(activations, 1, size_t{40} << 20);
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before);
  std::free(activations);
  EXPECT_GE(mallinfo2().fordblks, size_t{40} << 20);
  // Beyond the threshold (and beyond the free heap kept at the top, which serves a request
  // first), blocks are still their own mappings, handed back when freed.
  void* huge = nullptr;
  const size_t huge_bytes = static_cast<size_t>(kMmapThresholdBytes) +
                            static_cast<size_t>(kMaxKeptFreeBytes) + (32 << 20);
  ASSERT_EQ(posix_memalign(&huge, 64, huge_bytes), 0);
  EXPECT_GT(mallinfo2().hblkhd, mapped_before);
  std::free(huge);
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before);
}

}  // namespace
}  // namespace plumb::service
