// What every client call takes besides its request: a deadline and a way to cancel it from
// another thread. A coordinator shares one Cancellation among the calls of a round, so that
// abandoning the round stops every call still in flight.
//
// Thread safety: Cancellation is thread-safe; CallOptions is a value.
#ifndef PLUMB_COMMON_CLIENTS_CALL_OPTIONS_H_
#define PLUMB_COMMON_CLIENTS_CALL_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace plumb::clients {

class Cancellation {
 public:
  // Marks the calls cancelled and runs every registered callback once (on this thread, under
  // the Cancellation's lock: callbacks must be short and must not call back into it).
  void Cancel();
  bool cancelled() const;
  // Runs `on_cancel` at Cancel(), or now if already cancelled. Returns an id for Unregister.
  int64_t Register(std::function<void()> on_cancel);
  void Unregister(int64_t id);

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int64_t, std::function<void()>> callbacks_ ABSL_GUARDED_BY(mu_);
};

// Registers a callback for the lifetime of a scope (a call in flight).
class CancellationScope {
 public:
  CancellationScope(const std::shared_ptr<Cancellation>& cancellation,
                    std::function<void()> on_cancel);
  ~CancellationScope();
  CancellationScope(const CancellationScope&) = delete;
  CancellationScope& operator=(const CancellationScope&) = delete;

 private:
  std::shared_ptr<Cancellation> cancellation_;
  int64_t id_ = -1;
};

struct CallOptions {
  // The call's deadline, from when it starts; unset = the client's default (ChannelOptions'
  // default_deadline for gRPC clients).
  std::optional<absl::Duration> timeout;
  // May be null. A cancelled call answers CANCELLED.
  std::shared_ptr<Cancellation> cancellation;

  bool cancelled() const { return cancellation != nullptr && cancellation->cancelled(); }
};

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_CALL_OPTIONS_H_
