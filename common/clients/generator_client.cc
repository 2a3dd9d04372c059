#include "common/clients/generator_client.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "common/status/status_macros.h"

namespace plumb::clients {

void SortRollouts(std::vector<generator::RolloutResult>* rollouts) {
  std::sort(rollouts->begin(), rollouts->end(), [](const auto& a, const auto& b) {
    return std::tie(a.prompt_id, a.sample_index) < std::tie(b.prompt_id, b.sample_index);
  });
}

absl::StatusOr<std::vector<generator::RolloutResult>> GeneratorClient::GenerateAll(
    const generator::GenerateJob& job, const CallOptions& options) {
  std::vector<generator::RolloutResult> rollouts;
  RETURN_IF_ERROR(Generate(job, options, [&](generator::RolloutResult r) {
    rollouts.push_back(std::move(r));
    return true;
  }));
  SortRollouts(&rollouts);
  return rollouts;
}

}  // namespace plumb::clients
