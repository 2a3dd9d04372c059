#include "common/train/distributed.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#include "tests/support/free_port.h"

namespace plumb::train {
namespace {

using ::testing::HasSubstr;

TEST(DistributedTest, NoEnvironmentMeansAWorldOfOne) {
  unsetenv("RANK");
  unsetenv("WORLD_SIZE");
  absl::StatusOr<WorldEnvironment> env = ReadWorldEnvironment();
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->world_size, 1);
  std::unique_ptr<World> world = World::Single();
  at::Tensor t = torch::ones({3});
  ASSERT_TRUE(world->AllReduceSum({t}).ok());
  EXPECT_TRUE(at::equal(t, torch::ones({3})));
}

TEST(DistributedTest, BadEnvironmentNamesTheVariable) {
  setenv("RANK", "2", 1);
  setenv("WORLD_SIZE", "2", 1);
  EXPECT_THAT(std::string(ReadWorldEnvironment().status().message()),
              HasSubstr("RANK=2 must be smaller than WORLD_SIZE=2"));
  setenv("RANK", "x", 1);
  EXPECT_THAT(std::string(ReadWorldEnvironment().status().message()),
              HasSubstr("RANK='x' is not an integer"));
  setenv("RANK", "0", 1);
  unsetenv("MASTER_PORT");
  EXPECT_THAT(std::string(ReadWorldEnvironment().status().message()), HasSubstr("MASTER_PORT"));
  unsetenv("RANK");
  EXPECT_THAT(std::string(ReadWorldEnvironment().status().message()),
              HasSubstr("set both RANK and WORLD_SIZE"));
  unsetenv("WORLD_SIZE");
}

TEST(DistributedTest, NcclIsRefusedWithAHintOnThisBuild) {
  WorldEnvironment env{
      .rank = 0, .world_size = 2, .master_port = plumb::testing::FreeLoopbackPort()};
  absl::StatusOr<std::unique_ptr<World>> world = World::Join(env, WorldOptions{.backend = "nccl"});
  EXPECT_FALSE(world.ok());
  EXPECT_THAT(std::string(world.status().message()), HasSubstr("backend: gloo"));
}

// Two ranks in two threads of this process, talking Gloo over loopback.
TEST(DistributedTest, TwoRanksSumTensorsAndNumbersAndBroadcastOverGloo) {
  const int port = plumb::testing::FreeLoopbackPort();
  std::vector<std::string> errors(2);
  std::vector<at::Tensor> sums(2), floats(2), broadcast(2);
  std::vector<std::vector<double>> numbers(2);
  auto rank_main = [&](int rank) {
    WorldEnvironment env{.rank = rank, .world_size = 2, .master_port = port};
    absl::StatusOr<std::unique_ptr<World>> world =
        World::Join(env, WorldOptions{.timeout = std::chrono::seconds(30)});
    if (!world.ok()) {
      errors[rank] = std::string(world.status().message());
      return;
    }
    sums[rank] = torch::full({2, 3}, rank + 1.0, torch::kDouble);
    floats[rank] = torch::full({5}, 10.0f * (rank + 1));
    broadcast[rank] = torch::full({4}, rank == 0 ? 7.0f : -1.0f);
    absl::Status status = (*world)->AllReduceSum({sums[rank], floats[rank]});
    if (status.ok()) status = (*world)->Broadcast({broadcast[rank]});
    absl::StatusOr<std::vector<double>> n = (*world)->AllReduceSum({0.5 * rank, 1.0});
    if (!n.ok()) status = n.status();
    if (status.ok()) numbers[rank] = *n;
    if (status.ok()) status = (*world)->Barrier();
    if (!status.ok()) errors[rank] = std::string(status.message());
  };
  std::thread r0(rank_main, 0), r1(rank_main, 1);
  r0.join();
  r1.join();
  ASSERT_EQ(errors[0], "");
  ASSERT_EQ(errors[1], "");
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_TRUE(at::equal(sums[rank], torch::full({2, 3}, 3.0, torch::kDouble)));
    EXPECT_TRUE(at::equal(floats[rank], torch::full({5}, 30.0f)));
    EXPECT_TRUE(at::equal(broadcast[rank], torch::full({4}, 7.0f)));
    EXPECT_EQ(numbers[rank], (std::vector<double>{0.5, 2.0}));
  }
}

TEST(DistributedTest, JoiningANonexistentMasterFailsWithinTheTimeout) {
  WorldEnvironment env{
      .rank = 1, .world_size = 2, .master_port = plumb::testing::FreeLoopbackPort()};
  absl::StatusOr<std::unique_ptr<World>> world =
      World::Join(env, WorldOptions{.timeout = std::chrono::seconds(2)});
  ASSERT_FALSE(world.ok());
  EXPECT_THAT(std::string(world.status().message()), HasSubstr("rank 1 of 2 could not join"));
}

}  // namespace
}  // namespace plumb::train
