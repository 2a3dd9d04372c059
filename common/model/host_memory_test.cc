#include "common/model/host_memory.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/torch.h>

#include <cstdlib>

namespace plumb::model {
namespace {

// Bytes the allocator holds in mmapped blocks (returned to the kernel on free).
size_t MappedBytes() { return mallinfo2().hblkhd; }

TEST(HostMemoryTest, LargeActivationsComeFromTheHeapAndStayAfterFree) {
  unsetenv("MALLOC_MMAP_THRESHOLD_");
  unsetenv("MALLOC_TRIM_THRESHOLD_");
  const HostMemoryPolicy policy = KeepFreedHostMemory();
  EXPECT_TRUE(policy.mmap_threshold_set);
  EXPECT_TRUE(policy.trim_threshold_set);

  // A 40 MB tensor (above glibc's default 128 KiB..32 MiB mmap threshold) is not mmapped...
  const size_t mapped_before = MappedBytes();
  size_t heap_in_use = 0;
  {
    at::Tensor activations = torch::ones({10 << 20}, torch::kFloat);  // 40 MiB
    EXPECT_EQ(MappedBytes(), mapped_before);
    heap_in_use = mallinfo2().uordblks;
    EXPECT_GE(heap_in_use, size_t{40} << 20);
    EXPECT_EQ(activations.sum().item<double>(), 10 << 20);
  }
  // ...and once freed it stays with the process as free heap, ready for the next step.
  EXPECT_GE(mallinfo2().fordblks, size_t{40} << 20);

  // Above the limit, blocks are still mmapped (and handed back when freed).
  {
    at::Tensor huge =
        torch::empty({static_cast<int64_t>(kHeapAllocationLimit / 4) + 1024}, torch::kFloat);
    EXPECT_GT(MappedBytes(), mapped_before);
  }
  EXPECT_EQ(MappedBytes(), mapped_before);
}

TEST(HostMemoryTest, TheOperatorsEnvironmentWins) {
  setenv("MALLOC_MMAP_THRESHOLD_", "1048576", 1);
  setenv("MALLOC_TRIM_THRESHOLD_", "1048576", 1);
  const HostMemoryPolicy policy = KeepFreedHostMemory();
  EXPECT_FALSE(policy.mmap_threshold_set);
  EXPECT_FALSE(policy.trim_threshold_set);
  unsetenv("MALLOC_MMAP_THRESHOLD_");
  unsetenv("MALLOC_TRIM_THRESHOLD_");
}

}  // namespace
}  // namespace plumb::model
