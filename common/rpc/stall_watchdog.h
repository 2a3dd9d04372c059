// Abandons a client stream that stops making progress. A synchronous gRPC handler blocks in
// reader->Read() for as long as the client keeps the stream open, so a client that sends a
// manifest and then nothing would hold a resource (a service's one-load-at-a-time claim) forever.
// The watchdog calls `on_stall` (the handler's ServerContext::TryCancel, which makes Read()
// return false) once no Progress() has been reported for `timeout`.
//
//   StallWatchdog watchdog(absl::Seconds(30), [context] { context->TryCancel(); });
//   while (reader->Read(&chunk)) { watchdog.Progress(); ... }
//   if (watchdog.stalled()) return DEADLINE_EXCEEDED ...
//
// Thread safety: Progress() and stalled() from any thread; one watcher thread per instance,
// joined by the destructor.
#ifndef PLUMB_COMMON_RPC_STALL_WATCHDOG_H_
#define PLUMB_COMMON_RPC_STALL_WATCHDOG_H_

#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace plumb::rpc {

class StallWatchdog {
 public:
  // A zero or infinite `timeout` watches nothing.
  StallWatchdog(absl::Duration timeout, std::function<void()> on_stall);
  ~StallWatchdog();
  StallWatchdog(const StallWatchdog&) = delete;
  StallWatchdog& operator=(const StallWatchdog&) = delete;

  void Progress() ABSL_LOCKS_EXCLUDED(mu_);
  // True once on_stall was called.
  bool stalled() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Watch();

  const absl::Duration timeout_;
  const std::function<void()> on_stall_;
  mutable absl::Mutex mu_;
  absl::Time last_progress_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool stalled_ ABSL_GUARDED_BY(mu_) = false;
  std::thread watcher_;
};

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_STALL_WATCHDOG_H_
