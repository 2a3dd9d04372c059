// A frozen reference policy as its callers see it: plumb-reference over gRPC (grpc_clients.h) or
// an in-memory fake (fake_clients.h). Domain types only (common/api/reference_types.h).
//
// Thread safety: every method may be called from several threads at once.
#ifndef PLUMB_COMMON_CLIENTS_REFERENCE_CLIENT_H_
#define PLUMB_COMMON_CLIENTS_REFERENCE_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/api/reference_types.h"
#include "common/clients/call_options.h"

namespace plumb::clients {

class ReferenceClient {
 public:
  virtual ~ReferenceClient() = default;
  virtual const std::string& endpoint() const = 0;

  // Per-token (or summed) log-probs of every item, in item order.
  virtual absl::StatusOr<reference::LogProbsOutcome> LogProbs(const reference::LogProbsJob& job,
                                                              const CallOptions& options) = 0;
};

}  // namespace plumb::clients

#endif  // PLUMB_COMMON_CLIENTS_REFERENCE_CLIENT_H_
