#include "common/clients/call_options.h"

#include <utility>
#include <vector>

namespace plumb::clients {

// Callbacks run under the lock, so that Unregister (a call ending) waits for a callback that
// touches the call's state.
void Cancellation::Cancel() {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return;
  cancelled_ = true;
  for (auto& [id, callback] : callbacks_) callback();
  callbacks_.clear();
}

bool Cancellation::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

int64_t Cancellation::Register(std::function<void()> on_cancel) {
  {
    absl::MutexLock lock(&mu_);
    if (!cancelled_) {
      callbacks_[next_id_] = std::move(on_cancel);
      return next_id_++;
    }
  }
  on_cancel();
  return -1;
}

void Cancellation::Unregister(int64_t id) {
  absl::MutexLock lock(&mu_);
  callbacks_.erase(id);
}

CancellationScope::CancellationScope(const std::shared_ptr<Cancellation>& cancellation,
                                     std::function<void()> on_cancel)
    : cancellation_(cancellation) {
  if (cancellation_ != nullptr) id_ = cancellation_->Register(std::move(on_cancel));
}

CancellationScope::~CancellationScope() {
  if (cancellation_ != nullptr && id_ >= 0) cancellation_->Unregister(id_);
}

}  // namespace plumb::clients
