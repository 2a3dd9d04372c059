// A generator replica as its callers see it: plumb-generator over gRPC (grpc_clients.h) or an
// in-memory fake (fake_clients.h). Domain types only (common/api/generator_types.h).
//
// Thread safety: every method may be called from several threads at once.
#ifndef PLUMB_COMMON_CLIENTS_GENERATOR_CLIENT_H_
#define PLUMB_COMMON_CLIENTS_GENERATOR_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/api/generator_types.h"
#include "common/clients/call_options.h"

namespace plumb::clients {

struct GeneratorStatus {
  uint64_t policy_version = 0;
  bool loading_weights = false;
  generator::GeneratorLoad load;
  int max_sequences_per_request = 0;
};

// Sorts rollouts by (prompt id, sample index): the order GenerateAll and the rounds return.
void SortRollouts(std::vector<generator::RolloutResult>* rollouts);

class GeneratorClient {
 public:
  virtual ~GeneratorClient() = default;

  // Where the replica is ("host:port" for gRPC): names it in errors and as a publish target.
  virtual const std::string& endpoint() const = 0;

  // Samples `job`, handing each rollout to `on_rollout` as it finishes (in completion order).
  // `on_rollout` returning false cancels the call (CANCELLED). The generator's own codes
  // otherwise: INVALID_ARGUMENT, RESOURCE_EXHAUSTED (full), FAILED_PRECONDITION (min version),
  // UNAVAILABLE (replica gone), DEADLINE_EXCEEDED.
  virtual absl::Status Generate(
      const generator::GenerateJob& job, const CallOptions& options,
      const std::function<bool(generator::RolloutResult)>& on_rollout) = 0;

  virtual absl::StatusOr<GeneratorStatus> GetStatus(const CallOptions& options) = 0;

  // Every rollout of `job`, sorted by (prompt id, sample index).
  absl::StatusOr<std::vector<generator::RolloutResult>> GenerateAll(
      const generator::GenerateJob& job, const CallOptions& options);
};

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_GENERATOR_CLIENT_H_
