// The offline training loop behind `plumb-train`: loads the policy (and the frozen reference),
// reads the data set, and runs optimizer steps of one objective with AdamW, warm-up + decay,
// gradient accumulation over micro-batches, gradient clipping, optional bf16 autocast and LoRA;
// evaluates on the held-out split, writes checkpoints and resumes from them exactly; reports
// progress on stderr and metrics as JSON lines. Data-parallel over the ranks of a World: every
// rank reads the same global batch, computes its slice, and gradients are summed before the step.
//
// Thread safety: Run() on one thread; the trainer owns its models.
#ifndef PLUMB_COMMON_TRAIN_TRAINER_H_
#define PLUMB_COMMON_TRAIN_TRAINER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/train/distributed.h"
#include "common/train/train_options.h"

namespace plumb::train {

struct TrainResult {
  int64_t steps_done = 0;    // optimizer steps completed in total (including resumed ones)
  int64_t resumed_from = 0;  // the step this run started at
  std::map<std::string, double> last_train;  // the last step's statistics
  std::map<std::string, double> first_eval;  // held-out metrics before the first step of the run
  std::map<std::string, double> last_eval;   // ... and after the last
  std::string model_dir;  // the exported model folder (rank 0, when checkpoint.dir is set)
};

class Trainer {
 public:
  // Loads models, tokenizer and data; resumes from the newest checkpoint when configured.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(TrainOptions options, World* world);
  ~Trainer();

  // Trains until training.steps, or until `stop_at_step` (a checkpoint is written there, as a
  // preemption would need), whichever comes first.
  absl::StatusOr<TrainResult> Run(std::optional<int64_t> stop_at_step = std::nullopt);

 private:
  struct State;
  explicit Trainer(std::unique_ptr<State> state);
  // Create and Run inside their model boundary; each names the phase it is in in `doing`, which
  // prefixes an error thrown there.
  static absl::StatusOr<std::unique_ptr<Trainer>> CreateWithin(TrainOptions options, World* world,
                                                               std::string* doing);
  absl::StatusOr<TrainResult> RunWithin(std::optional<int64_t> stop_at_step, std::string* doing);
  std::unique_ptr<State> state_;
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_TRAINER_H_
