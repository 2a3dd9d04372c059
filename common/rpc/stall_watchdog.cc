#include "common/rpc/stall_watchdog.h"

#include <utility>

namespace plumb::rpc {

StallWatchdog::StallWatchdog(absl::Duration timeout, std::function<void()> on_stall)
    : timeout_(timeout), on_stall_(std::move(on_stall)), last_progress_(absl::Now()) {
  if (timeout_ > absl::ZeroDuration() && timeout_ != absl::InfiniteDuration()) {
    watcher_ = std::thread([this] { Watch(); });
  }
}

StallWatchdog::~StallWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  if (watcher_.joinable()) watcher_.join();
}

void StallWatchdog::Progress() {
  absl::MutexLock lock(&mu_);
  last_progress_ = absl::Now();
}

bool StallWatchdog::stalled() const {
  absl::MutexLock lock(&mu_);
  return stalled_;
}

void StallWatchdog::Watch() {
  absl::MutexLock lock(&mu_);
  while (!done_) {
    const absl::Time deadline = last_progress_ + timeout_;
    if (absl::Now() >= deadline) {
      stalled_ = true;
      break;
    }
    mu_.AwaitWithDeadline(absl::Condition(&done_), deadline);
  }
  if (stalled_) {
    mu_.Unlock();
    on_stall_();  // outside the lock: it may block briefly on gRPC's own locks
    mu_.Lock();
  }
}

}  // namespace plumb::rpc
