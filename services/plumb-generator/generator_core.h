// The core of plumb-generator: samples K responses per prompt from the current policy snapshot,
// without gRPC. Requests are validated and admitted on the caller's thread (admission fails with
// RESOURCE_EXHAUSTED once queued + running sequences would pass queue_capacity), then one runner
// thread owns every forward pass and decodes with continuous batching (model::ContinuousBatch):
// between two decoding steps it admits queued sequences (highest priority first, aged by waiting
// time, oldest first within a level) while they fit
// the batch's max_batch_size rows and cache positions, prefills them, and lets every finished
// sequence leave at once, so a short request never waits for a long one. Sequences with
// different sampling settings share the batch; each gets exactly the tokens it would get alone.
// Each request runs entirely on the snapshot current when it was admitted, and every rollout
// names that version: a request admitted after a weight swap waits until the sequences of the
// older snapshot have left the batch.
//
// Thread safety: Generate() from any number of threads; it blocks its caller, handing rollouts to
// `emit` on that caller's thread as each batch finishes.
#ifndef PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_CORE_H_
#define PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_CORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/api/generator_types.h"
#include "common/metrics/registry.h"
#include "common/model/sampler.h"
#include "common/tokenizer/tokenizer.h"
#include "common/weights/versioned_model.h"

namespace plumb::generator {

struct GeneratorLimits {
  int max_prompts_per_request = 256;
  int max_num_samples = 64;
  int max_sequences_per_request = 4096;
  int max_new_tokens_limit = 4096;
  int default_max_new_tokens = 256;
  int max_batch_size = 32;    // sequences decoding together (rows of the continuous batch)
  int queue_capacity = 1024;  // queued + running sequences
  // A queued request gains one priority level per this many milliseconds of waiting, so a
  // request of the lowest priority (-10) waits at most 20 x this behind fresh ones of the highest.
  int priority_aging_ms = 2000;
};

class GeneratorCore {
 public:
  // `tokenizer` may be null (token-id prompts only, no response text). The model, tokenizer and
  // registry must outlive the core.
  static absl::StatusOr<std::unique_ptr<GeneratorCore>> Create(
      weights::VersionedModel* model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
      GeneratorLimits limits, metrics::Registry* registry);
  ~GeneratorCore();

  // Validates, admits and runs `job`, calling `emit` for each rollout (false from emit, or true
  // from `cancelled`, stops the request: CANCELLED). INVALID_ARGUMENT / FAILED_PRECONDITION /
  // RESOURCE_EXHAUSTED as proto/plumb/v1/generator.proto documents.
  absl::Status Generate(GenerateJob job, const std::function<bool(const RolloutResult&)>& emit,
                        const std::function<bool()>& cancelled = {});

  GeneratorLoad load() const;
  const GeneratorLimits& limits() const { return limits_; }
  weights::VersionedModel& model() { return *model_; }
  const tokenizer::Tokenizer* tokenizer() const { return tokenizer_.get(); }

 private:
  struct Request;
  struct Metrics;
  GeneratorCore(weights::VersionedModel* model,
                std::shared_ptr<const tokenizer::Tokenizer> tokenizer, GeneratorLimits limits,
                std::unique_ptr<Metrics> metrics);
  // Token ids of every prompt and the model's sampling options; INVALID_ARGUMENT on bad input.
  absl::Status Prepare(const GenerateJob& job, Request* request) const;
  void RunLoop();
  // Orders the queue for admission: requests already partly admitted first, then by priority
  // plus one level per priority_aging_ms waited, then by arrival.
  void OrderQueueByPriority() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finalize(Request* request, const model::SampledSequence& sequence, const std::string& id,
                const std::vector<int64_t>& prompt, RolloutResult* out) const;

  weights::VersionedModel* model_;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  const GeneratorLimits limits_;
  std::unique_ptr<Metrics> metrics_;
  mutable absl::Mutex mu_;
  // Shared with the waiting caller, so neither side frees a request the other still touches.
  std::deque<std::shared_ptr<Request>> queue_ ABSL_GUARDED_BY(mu_);
  int queued_sequences_ ABSL_GUARDED_BY(mu_) = 0;
  int running_sequences_ ABSL_GUARDED_BY(mu_) = 0;
  int active_requests_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_arrival_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::pair<double, int64_t>> recent_tokens_ ABSL_GUARDED_BY(mu_);  // (time, tokens)
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread runner_;
};

}  // namespace plumb::generator

#endif  // PLUMB_SERVICES_PLUMB_GENERATOR_GENERATOR_CORE_H_
