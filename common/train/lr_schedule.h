// Learning-rate schedules: linear warm-up from 0, then constant, linear decay or cosine decay to
// min_lr_ratio * lr at the last step (the schedules HF transformers and OpenRLHF offer).
//
// Thread safety: plain functions and values.
#ifndef PLUMB_COMMON_TRAIN_LR_SCHEDULE_H_
#define PLUMB_COMMON_TRAIN_LR_SCHEDULE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/config/config_map.h"

namespace plumb::train {

struct ScheduleOptions {
  std::string kind = "cosine";  // "constant", "linear" or "cosine"
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;  // the final learning rate as a fraction of the peak
};

// Reads `schedule:` (kind, warmup_steps, min_lr_ratio).
absl::Status ParseScheduleOptions(config::ConfigMap& section, ScheduleOptions* options);

// The learning rate of optimizer step `step` (0-based) of `total_steps`:
//   step < warmup:   lr * (step + 1) / warmup
//   after warm-up:   progress p = (step - warmup) / max(1, total - warmup) in [0, 1];
//     constant: lr; linear: lr * (r + (1 - r)(1 - p)); cosine: lr * (r + (1 - r)(1 + cos(pi p))/2)
// where r = min_lr_ratio.
double LearningRateAt(double peak_lr, int64_t step, int64_t total_steps,
                      const ScheduleOptions& options);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_LR_SCHEDULE_H_
