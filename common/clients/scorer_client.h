// A reward scorer as its callers see it: plumb-scorer over gRPC (grpc_clients.h) or an in-memory
// fake (fake_clients.h). Domain types only (common/api/scorer_types.h).
//
// Thread safety: every method may be called from several threads at once.
#ifndef PLUMB_COMMON_CLIENTS_SCORER_CLIENT_H_
#define PLUMB_COMMON_CLIENTS_SCORER_CLIENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/api/scorer_types.h"
#include "common/clients/call_options.h"

namespace plumb::clients {

class ScorerClient {
 public:
  virtual ~ScorerClient() = default;
  virtual const std::string& endpoint() const = 0;

  // One ScoreOutput per item, in item order. `objectives` empty = every configured objective
  // and the composed reward.
  virtual absl::StatusOr<std::vector<scorer::ScoreOutput>> Score(
      const std::vector<scorer::ScoreInput>& items, const std::vector<std::string>& objectives,
      const CallOptions& options) = 0;
};

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_SCORER_CLIENT_H_
