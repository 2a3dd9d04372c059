// The core of plumb-reference: per-token log-probs of (prompt, response) token sequences under
// the frozen reference policy, with no gRPC in sight. Requests are validated on the caller's
// thread, queued (bounded: a full queue is RESOURCE_EXHAUSTED, never unbounded growth), and run
// by one runner thread that owns model work: it takes the current weight snapshot per request
// (so a weight swap never changes a request half-way) and evaluates it in forward passes of at
// most max_batch_size sequences.
//
// Thread safety: LogProbs() from any number of threads (each blocks until its request is done);
// the runner thread is the only one that runs the model.
#ifndef PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_CORE_H_
#define PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_CORE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/api/reference_types.h"
#include "common/metrics/registry.h"
#include "common/tokenizer/tokenizer.h"
#include "common/weights/versioned_model.h"

namespace plumb::reference {

struct ReferenceLimits {
  int max_items_per_request = 1024;
  int64_t max_tokens_per_request = 262144;  // prompt + response tokens over all items
  int max_batch_size = 16;                  // sequences per forward pass
  int max_queued_requests = 64;
};

class ReferenceCore {
 public:
  // Starts the runner thread. `model` and `registry` must outlive the core. `tokenizer` may be
  // null (token-id items only).
  static absl::StatusOr<std::unique_ptr<ReferenceCore>> Create(
      weights::VersionedModel* model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
      ReferenceLimits limits, metrics::Registry* registry);
  ~ReferenceCore();  // fails queued requests with UNAVAILABLE and joins the runner

  // INVALID_ARGUMENT naming the item and the problem (see proto/plumb/v1/reference.proto).
  absl::Status Validate(const LogProbsJob& job) const;

  // Validates, queues and waits for the result.
  absl::StatusOr<LogProbsOutcome> LogProbs(LogProbsJob job);

  int queued() const;
  const ReferenceLimits& limits() const { return limits_; }
  weights::VersionedModel& model() { return *model_; }
  const tokenizer::Tokenizer* tokenizer() const { return tokenizer_.get(); }

 private:
  struct Pending;
  struct Metrics;
  ReferenceCore(weights::VersionedModel* model,
                std::shared_ptr<const tokenizer::Tokenizer> tokenizer, ReferenceLimits limits,
                std::unique_ptr<Metrics> metrics);
  // Replaces the text parts of every item by their ids (bounded before tokenizing).
  absl::Status TokenizeText(LogProbsJob* job) const;
  void RunLoop();
  absl::StatusOr<LogProbsOutcome> Run(const LogProbsJob& job);

  weights::VersionedModel* model_;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  const ReferenceLimits limits_;
  std::unique_ptr<Metrics> metrics_;
  mutable absl::Mutex mu_;
  // Shared with the waiting caller, so neither side frees a request the other still touches.
  std::deque<std::shared_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread runner_;
};

}  // namespace plumb::reference

#endif  // PLUMB_SERVICES_PLUMB_REFERENCE_REFERENCE_CORE_H_
