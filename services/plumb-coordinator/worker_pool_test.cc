#include "services/plumb-coordinator/worker_pool.h"

#include <gtest/gtest.h>

#include <limits>

namespace plumb::coordinator {
namespace {

struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1000);
  WorkerPool::Clock fn() {
    return [this] { return now; };
  }
};

Registration Generator(const std::string& endpoint, const std::string& instance) {
  return {.role = WorkerRole::kGenerator, .endpoint = endpoint, .instance_id = instance};
}

TEST(WorkerPoolTest, RegistrationIsIdempotentPerInstance) {
  FakeClock clock;
  WorkerPool pool(absl::Seconds(5), absl::Seconds(15), clock.fn());
  absl::StatusOr<std::string> first = pool.Register(Generator("127.0.0.1:1", "a"));
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::string> again = pool.Register(Generator("127.0.0.1:1", "a"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
  // A new instance at the same endpoint replaces the old registration.
  absl::StatusOr<std::string> replaced = pool.Register(Generator("127.0.0.1:1", "b"));
  ASSERT_TRUE(replaced.ok());
  EXPECT_NE(*replaced, *first);
  EXPECT_EQ(pool.List().size(), 1u);
  EXPECT_TRUE(absl::IsNotFound(pool.Heartbeat(*first, {})));
}

TEST(WorkerPoolTest, SilentWorkersAreLostAndMustRegisterAgain) {
  FakeClock clock;
  WorkerPool pool(absl::Seconds(5), absl::Seconds(15), clock.fn());
  const std::string id = *pool.Register(Generator("127.0.0.1:1", "a"));
  clock.now += absl::Seconds(10);
  ASSERT_TRUE(pool.Heartbeat(id, {.active_requests = 2}).ok());
  clock.now += absl::Seconds(14);
  EXPECT_EQ(pool.Healthy(WorkerRole::kGenerator).size(), 1u);
  clock.now += absl::Seconds(2);
  EXPECT_TRUE(pool.Healthy(WorkerRole::kGenerator).empty());
  EXPECT_TRUE(pool.List().empty());
  ASSERT_EQ(pool.List(/*include_lost=*/true).size(), 1u);
  EXPECT_EQ(pool.List(true)[0].health, WorkerHealth::kLost);
  EXPECT_TRUE(absl::IsNotFound(pool.Heartbeat(id, {})));
}

TEST(WorkerPoolTest, StaticWorkersFollowProbesAndFailedCalls) {
  WorkerPool pool(absl::Seconds(5), absl::Seconds(15));
  pool.AddStatic(WorkerRole::kScorer, "127.0.0.1:7");
  pool.AddStatic(WorkerRole::kScorer, "127.0.0.1:7");
  ASSERT_EQ(pool.Healthy(WorkerRole::kScorer).size(), 1u);
  const std::string id = pool.Healthy(WorkerRole::kScorer)[0].worker_id;
  EXPECT_EQ(id, "scorer@127.0.0.1:7");
  pool.ReportUnreachable(id);
  EXPECT_TRUE(pool.Healthy(WorkerRole::kScorer).empty());
  pool.ReportProbe(id, true);
  EXPECT_EQ(pool.Healthy(WorkerRole::kScorer).size(), 1u);
  EXPECT_TRUE(absl::IsFailedPrecondition(pool.Deregister(id)));
}

TEST(WorkerPoolTest, HealthyListsTheLeastLoadedFirstAndSkipsDraining) {
  WorkerPool pool(absl::Seconds(5), absl::Seconds(15));
  const std::string busy = *pool.Register(Generator("127.0.0.1:1", "a"));
  const std::string idle = *pool.Register(Generator("127.0.0.1:2", "b"));
  const std::string leaving = *pool.Register(Generator("127.0.0.1:3", "c"));
  ASSERT_TRUE(pool.Heartbeat(busy, {.active_requests = 5, .queued = 3}).ok());
  ASSERT_TRUE(pool.Heartbeat(idle, {.active_requests = 1}).ok());
  ASSERT_TRUE(pool.Heartbeat(leaving, {.draining = true}).ok());
  const std::vector<Worker> healthy = pool.Healthy(WorkerRole::kGenerator);
  ASSERT_EQ(healthy.size(), 2u);
  EXPECT_EQ(healthy[0].worker_id, idle);
  EXPECT_EQ(healthy[1].worker_id, busy);
}

TEST(WorkerPoolTest, BadRegistrationsAndLoadsAreRefusedNamingTheField) {
  WorkerPool pool(absl::Seconds(5), absl::Seconds(15));
  Registration r = Generator("no-port", "a");
  EXPECT_NE(pool.Register(r).status().message().find("endpoint"), std::string::npos);
  r = Generator("127.0.0.1:1", "");
  EXPECT_NE(pool.Register(r).status().message().find("instance_id"), std::string::npos);
  r = Generator("127.0.0.1:1", "a");
  r.capacity = -1;
  EXPECT_NE(pool.Register(r).status().message().find("capacity"), std::string::npos);
  r.capacity = 0;
  r.role = static_cast<WorkerRole>(9);
  EXPECT_TRUE(absl::IsInvalidArgument(pool.Register(r).status()));
  const std::string id = *pool.Register(Generator("127.0.0.1:1", "a"));
  EXPECT_TRUE(absl::IsInvalidArgument(
      pool.Heartbeat(id, {.utilization = std::numeric_limits<double>::quiet_NaN()})));
  EXPECT_TRUE(absl::IsInvalidArgument(pool.Heartbeat(id, {.active_requests = -1})));
}

}  // namespace
}  // namespace plumb::coordinator
