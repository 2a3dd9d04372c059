#include "services/plumb-scorer/composition.h"

#include <algorithm>
#include <cmath>

namespace plumb::scorer {

double Normalize(double raw, double mean, double stddev) {
  return stddev == 0.0 ? raw : (raw - mean) / stddev;
}

bool PromptFlaggedUnsafe(const CompositionOptions& composition,
                         const std::map<std::string, std::string>& prompt_metadata) {
  if (!composition.gating.has_value()) return false;
  const auto it = prompt_metadata.find(composition.gating->prompt_flag_key);
  return it != prompt_metadata.end() && it->second == "true";
}

std::vector<std::string> ObjectivesNeeded(const CompositionOptions& composition) {
  std::vector<std::string> needed;
  for (const ObjectiveWeight& weight : composition.weights) needed.push_back(weight.objective);
  if (composition.gating.has_value() &&
      std::find(needed.begin(), needed.end(), composition.gating->safety_objective) ==
          needed.end()) {
    needed.push_back(composition.gating->safety_objective);
  }
  return needed;
}

ComposedReward ComposeReward(const CompositionOptions& composition,
                             const std::map<std::string, double>& normalized,
                             bool prompt_flagged_unsafe) {
  for (const std::string& name : ObjectivesNeeded(composition)) {
    if (!normalized.contains(name)) return {};
  }
  ComposedReward out;
  double r = 0.0;
  if (composition.gating.has_value()) {
    const double safety = normalized.at(composition.gating->safety_objective);
    out.gated = prompt_flagged_unsafe || safety < composition.gating->threshold;
    if (out.gated) r = safety;
  }
  if (!out.gated) {
    for (const ObjectiveWeight& weight : composition.weights) {
      r += weight.weight * normalized.at(weight.objective);
    }
  }
  if (composition.logit_transform) {
    const double p = std::clamp(r, kLogitEpsilon, 1.0 - kLogitEpsilon);
    r = std::log(p) - std::log1p(-p);
  }
  const double scale = composition.scale == 0.0 ? 1.0 : composition.scale;
  out.reward = (r - composition.offset) * scale;
  return out;
}

}  // namespace plumb::scorer
