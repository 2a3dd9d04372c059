#include "common/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "common/status/status_macros.h"

namespace plumb::train {

absl::Status ParseScheduleOptions(config::ConfigMap& section, ScheduleOptions* options) {
  RETURN_IF_ERROR(section.ReadChoice("kind", &options->kind, {"constant", "linear", "cosine"}));
  RETURN_IF_ERROR(section.Read("warmup_steps", &options->warmup_steps, config::IntRange{0}));
  RETURN_IF_ERROR(
      section.Read("min_lr_ratio", &options->min_lr_ratio, config::DoubleRange{0.0, 1.0}));
  return section.Finish();
}

double LearningRateAt(double peak_lr, int64_t step, int64_t total_steps,
                      const ScheduleOptions& options) {
  if (step < options.warmup_steps) {
    return peak_lr * static_cast<double>(step + 1) / static_cast<double>(options.warmup_steps);
  }
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - options.warmup_steps));
  const double progress =
      std::clamp(static_cast<double>(step - options.warmup_steps) / span, 0.0, 1.0);
  const double r = options.min_lr_ratio;
  if (options.kind == "linear") return peak_lr * (r + (1.0 - r) * (1.0 - progress));
  if (options.kind == "cosine") {
    return peak_lr * (r + (1.0 - r) * 0.5 * (1.0 + std::cos(M_PI * progress)));
  }
  return peak_lr;
}

}  // namespace plumb::train
