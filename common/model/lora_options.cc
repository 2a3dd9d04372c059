#include "common/model/lora_options.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::model {

bool IsLoraTargetModule(absl::string_view module) {
  static constexpr std::array<absl::string_view, 7> kModules = {
      "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  return std::find(kModules.begin(), kModules.end(), module) != kModules.end();
}

absl::Status ParseLoraOptions(config::ConfigMap& section, LoraOptions* options) {
  RETURN_IF_ERROR(section.Read("rank", &options->rank, config::IntRange{1, 4096}));
  RETURN_IF_ERROR(section.Read("alpha", &options->alpha, config::DoubleRange{0, 1e6, true}));
  RETURN_IF_ERROR(section.Read("target_modules", &options->target_modules));
  for (const std::string& module : options->target_modules) {
    if (!IsLoraTargetModule(module)) {
      return section.Error("target_modules",
                           absl::StrCat("unknown module '", module,
                                        "'; expected some of q_proj, k_proj, v_proj, o_proj, "
                                        "gate_proj, up_proj, down_proj"));
    }
  }
  return section.Finish();
}

}  // namespace plumb::model
