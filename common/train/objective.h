// The interface every offline trainer's objective implements, and what the training loop hands
// it. An objective turns one global batch of text examples into a loss, back-propagates the share
// of this rank, and reports statistics; the loop owns the optimizer, data, collectives and
// checkpoints.
//
// Data parallelism: every rank receives the whole global batch (text is cheap) and the range of
// it that is its own. Each objective divides its loss by the GLOBAL normaliser (examples, pairs or
// tokens of the whole batch, summed across ranks where it is data-dependent), so summing the
// ranks' gradients gives exactly the gradient one process computes on the same batch.
//
// Thread safety: used by the trainer's thread only.
#ifndef PLUMB_COMMON_TRAIN_OBJECTIVE_H_
#define PLUMB_COMMON_TRAIN_OBJECTIVE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/data/example.h"
#include "common/train/distributed.h"
#include "common/train/stat_sums.h"

namespace plumb::train {

struct StepContext {
  World* world = nullptr;
  const std::vector<data::Example>* batch = nullptr;  // the global batch, identical on all ranks
  int64_t begin = 0;                                  // this rank's slice [begin, end)
  int64_t end = 0;
  int64_t micro_batch_size = 1;  // examples per forward pass
  bool bf16_autocast = false;
};

class TrainingObjective {
 public:
  virtual ~TrainingObjective() = default;

  // Forward and backward over this rank's slice in micro-batches; gradients accumulate in the
  // policy's parameters. Statistics go to *stats (per-rank sums; the loop reduces them).
  virtual absl::Status AccumulateGradients(const StepContext& context, StatSums* stats) = 0;

  // Held-out metrics, without gradients, over `examples` in batches of `batch_size`.
  virtual absl::Status Evaluate(const std::vector<data::Example>& examples, int64_t batch_size,
                                StatSums* stats) = 0;

  // Tokens processed so far (prompt + response, for throughput reports).
  int64_t tokens_seen() const { return tokens_seen_; }

 protected:
  int64_t tokens_seen_ = 0;
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OBJECTIVE_H_
