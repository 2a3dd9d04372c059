// AdamW's hyper-parameters (optimizer.h), without LibTorch: what the trainers' YAML files
// (train_options.h) and a learner session's options (common/api) carry.
#ifndef PLUMB_COMMON_TRAIN_OPTIMIZER_OPTIONS_H_
#define PLUMB_COMMON_TRAIN_OPTIMIZER_OPTIONS_H_

namespace plumb::train {

struct OptimizerOptions {
  double lr = 1e-5;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // decoupled (AdamW); applied to matrices only, not norms
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_OPTIMIZER_OPTIONS_H_
