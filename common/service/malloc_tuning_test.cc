#include "common/service/malloc_tuning.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <vector>

namespace plumb::service {
namespace {

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// A burst of 4 MiB buffers (a tokenized prompt, a batch of messages) freed again: the memory goes
// back to the kernel beyond the capped amount. With the old tuning (1 GiB kept) the process kept
// all 320 MiB.
TEST(MallocTuningTest, MemoryFreedAfterABurstIsReturnedBeyondTheCap) {
  ASSERT_TRUE(TuneMallocForLargeBuffers());
  const int64_t before = ResidentBytes();
  std::vector<char*> buffers;
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

// A training step frees and re-allocates the same activations every step: a 40 MiB tensor
// (above glibc's default mmap threshold, at most 32 MiB) comes from the heap and stays with the
// process once freed, instead of being page-faulted in again next step.
TEST(MallocTuningTest, TrainingActivationsAreReusedNotMappedAgain) {
  ASSERT_TRUE(TuneMallocForLargeBuffers());
  const size_t mapped_before = mallinfo2().hblkhd;
  {
    at::Tensor activations = torch::ones({10 << 20}, torch::kFloat);  // 40 MiB
    EXPECT_EQ(mallinfo2().hblkhd, mapped_before);
    EXPECT_EQ(activations.sum().item<double>(), 10 << 20);
  }
  EXPECT_GE(mallinfo2().fordblks, size_t{40} << 20);
  // Beyond the threshold, blocks are still their own mappings, handed back when freed.
  {
    at::Tensor huge = torch::empty({(kMmapThresholdBytes / 4) + 1024}, torch::kFloat);
    EXPECT_GT(mallinfo2().hblkhd, mapped_before);
  }
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before);
}

}  // namespace
}  // namespace plumb::service
