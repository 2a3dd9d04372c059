// scorer.proto's RewardComposition applied to one item's objective scores:
//   s_i = normalised score, (raw - mean) / stddev (stddev 0 = raw)
//   gated = prompt flagged unsafe (metadata[prompt_flag_key] == "true") or s[safety] < threshold
//   r = gated ? s[safety] : sum_i weight_i * s_i
//   if logit_transform: r = logit(clamp(r, kLogitEpsilon, 1 - kLogitEpsilon))
//   r = (r - offset) * (scale == 0 ? 1 : scale)
// The reward is absent when a weighted or the safety objective was not scored (a request for a
// subset of objectives). algorithms::ComposeRewards is not reused: it gates between two named
// objectives and works on tensors, while the proto gates between the safety score and the sum.
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_COMPOSITION_H_
#define PLUMB_SERVICES_PLUMB_SCORER_COMPOSITION_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "services/plumb-scorer/scorer_options.h"

namespace plumb::scorer {

inline constexpr double kLogitEpsilon = 1e-6;

struct ComposedReward {
  std::optional<double> reward;
  bool gated = false;  // safety gating decided the reward (false when the reward is absent)
};

// (raw - mean) / stddev, or raw when stddev is 0.
double Normalize(double raw, double mean, double stddev);

// Whether the composition's gating applies to a prompt with this metadata (false without
// gating).
bool PromptFlaggedUnsafe(const CompositionOptions& composition,
                         const std::map<std::string, std::string>& prompt_metadata);

// Objectives the composition reads: the weighted ones, then the safety objective.
std::vector<std::string> ObjectivesNeeded(const CompositionOptions& composition);

// `normalized`: objective name -> normalised score of the item.
ComposedReward ComposeReward(const CompositionOptions& composition,
                             const std::map<std::string, double>& normalized,
                             bool prompt_flagged_unsafe);

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_COMPOSITION_H_
