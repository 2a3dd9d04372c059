// Runs alone in its own binary: the OpenMP runtime must not have started before the test.
#include "common/model/compute_threads.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <thread>

namespace plumb::model {
namespace {

TEST(ComputeThreadsTest, ThreadsStartedLaterUseTheSameCount) {
  SetComputeThreads(1);
  EXPECT_EQ(at::get_num_threads(), 1);
  // What BLAS sees on a new thread that has not run an ATen parallel region yet (a runner or
  // gRPC thread whose first work is a matrix product).
  int other = 0;
  std::thread worker([&] { other = omp_get_max_threads(); });
  worker.join();
  EXPECT_EQ(other, 1) << "a thread created after SetComputeThreads must not use more threads";
}

}  // namespace
}  // namespace plumb::model
