// AdamW as Plumb's trainers use it: decoupled weight decay on matrices only (norm gains and other
// 1-d tensors excluded), and the learning rate set per step from a schedule.
//
// Thread safety: the trainer's thread only.
#ifndef PLUMB_COMMON_TRAIN_OPTIMIZER_H_
#define PLUMB_COMMON_TRAIN_OPTIMIZER_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

#include "common/train/train_options.h"

namespace torch::optim {
class AdamW;
}  // namespace torch::optim

namespace plumb::train {

std::unique_ptr<torch::optim::AdamW> MakeAdamW(const std::vector<at::Tensor>& params,
                                               const OptimizerOptions& options);

// Sets the learning rate of every parameter group.
void SetLearningRate(torch::optim::AdamW& optimizer, double lr);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OPTIMIZER_H_
