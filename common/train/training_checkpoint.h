// Checkpoints of a training run, complete enough that resuming is bit-exact: every parameter of
// the policy, the optimizer's state, the step, the data cursor and LibTorch's CPU generator.
//
// Layout under the run's checkpoint directory:
//   step-00000100/  weights.pt  optimizer.pt  rng.pt  state.json
//   latest          the name of the newest complete step folder
// A step folder is written under a temporary name and renamed when complete, so a crash never
// leaves a half-written checkpoint that looks finished. state.json records an XXH3-64 checksum of
// every other file; a checkpoint whose files do not match is refused (DATA_LOSS) before anything
// is loaded, and one whose tensors do not match the model (a missing or extra tensor, another
// shape or dtype, an optimizer state of other parameters) is refused (INVALID_ARGUMENT, naming
// them) before any parameter changes. LibTorch's errors reading or writing the archives
// propagate (as exceptions) to the caller's model boundary, which names the checkpoint.
//
// Thread safety: the trainer's thread only.
#ifndef PLUMB_COMMON_TRAIN_TRAINING_CHECKPOINT_H_
#define PLUMB_COMMON_TRAIN_TRAINING_CHECKPOINT_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/model/transformer.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace plumb::train {

struct RunState {
  int64_t step = 0;  // optimizer steps completed
  int64_t total_steps = 0;
  std::string kind;
  std::string data_state;  // JsonlDataset::SaveState()
  int world_size = 1;
  int64_t batch_size = 0;
  int64_t tokens_seen = 0;
};

// Writes step-<step>/ and points `latest` at it, then removes all but the newest `keep` step
// folders. Returns the folder written.
absl::StatusOr<std::filesystem::path> SaveTrainingCheckpoint(const std::filesystem::path& dir,
                                                             model::TransformerImpl& model,
                                                             torch::optim::Optimizer& optimizer,
                                                             const RunState& state, int64_t keep);

// The newest complete checkpoint in `dir`, or nullopt when there is none.
std::optional<std::filesystem::path> LatestCheckpoint(const std::filesystem::path& dir);

// Verifies and loads a step folder into the model and optimizer and restores the generator.
absl::StatusOr<RunState> LoadTrainingCheckpoint(const std::filesystem::path& step_dir,
                                                model::TransformerImpl& model,
                                                torch::optim::Optimizer& optimizer);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_TRAINING_CHECKPOINT_H_
