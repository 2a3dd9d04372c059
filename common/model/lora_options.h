// LoRA's options (lora.h) and their reader, without LibTorch: what a learner session's options
// (common/api) and the trainers' YAML files carry.
#ifndef PLUMB_COMMON_MODEL_LORA_OPTIONS_H_
#define PLUMB_COMMON_MODEL_LORA_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/config/config_map.h"

namespace plumb::model {

struct LoraOptions {
  int64_t rank = 8;
  double alpha = 16.0;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};
};

// Whether `module` is one of the projections LoRA adapts (q_proj, k_proj, v_proj, o_proj,
// gate_proj, up_proj, down_proj); ApplyLora maps each to its slice of a fused weight.
bool IsLoraTargetModule(absl::string_view module);

// Reads a `lora:` section (rank, alpha, target_modules).
absl::Status ParseLoraOptions(config::ConfigMap& section, LoraOptions* options);

}  // namespace plumb::model

#endif  // PLUMB_COMMON_MODEL_LORA_OPTIONS_H_
