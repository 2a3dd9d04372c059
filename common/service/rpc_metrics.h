// Per-method RPC metrics for every Plumb server, recorded by a gRPC server interceptor:
//   plumb_rpc_requests_total{service,method,code}   calls finished, by status code
//   plumb_rpc_duration_seconds{service,method}      latency from headers received to status sent
//   plumb_rpc_in_flight_requests{service}           calls started and not yet finished
//
// Thread safety: the factory and its interceptors may run on any gRPC thread.
#ifndef PLUMB_COMMON_SERVICE_RPC_METRICS_H_
#define PLUMB_COMMON_SERVICE_RPC_METRICS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}

namespace plumb::service {

// `service_label` names the process in the metrics (e.g. "generator").
absl::StatusOr<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
MakeRpcMetricsInterceptorFactory(metrics::Registry* registry, const std::string& service_label);

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_RPC_METRICS_H_
