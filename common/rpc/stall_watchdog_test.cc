#include "common/rpc/stall_watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace plumb::rpc {
namespace {

TEST(StallWatchdogTest, FiresOnceNoProgressArrivesForTheTimeout) {
  std::atomic<int> fired{0};
  StallWatchdog watchdog(absl::Milliseconds(100), [&] { ++fired; });
  for (int i = 0; i < 5 && fired.load() == 0; ++i) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(fired.load(), 1);
  EXPECT_TRUE(watchdog.stalled());
}

TEST(StallWatchdogTest, ProgressKeepsItQuiet) {
  std::atomic<int> fired{0};
  {
    StallWatchdog watchdog(absl::Milliseconds(300), [&] { ++fired; });
    for (int i = 0; i < 10; ++i) {
      absl::SleepFor(absl::Milliseconds(50));
      watchdog.Progress();
    }
    EXPECT_FALSE(watchdog.stalled());
  }
  EXPECT_EQ(fired.load(), 0);
}

TEST(StallWatchdogTest, AZeroTimeoutWatchesNothing) {
  std::atomic<int> fired{0};
  StallWatchdog watchdog(absl::ZeroDuration(), [&] { ++fired; });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(watchdog.stalled());
  EXPECT_EQ(fired.load(), 0);
}

}  // namespace
}  // namespace plumb::rpc
