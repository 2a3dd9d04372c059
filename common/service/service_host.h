// Everything a Plumb service process runs besides its own logic: logging, the gRPC server
// (common/rpc/server_runner.h) with per-method RPC metrics, the /metrics HTTP endpoint with
// process and build-info metrics, and the SIGTERM/SIGINT drain. A service's main() is:
//
//   ASSIGN_OR_RETURN(ServiceConfig config, LoadServiceConfig(path, parse_my_sections));
//   metrics::Registry registry;
//   MyService service(..., &registry);
//   ASSIGN_OR_RETURN(auto host, ServiceHost::Start(config, "plumb-my",
//                                                  {rpc::Hosted<v1::My>(&service)}, &registry));
//   return host->RunUntilSignal();
//
// On start it prints one line to stdout that scripts and tests wait for:
//   plumb-my ready grpc_port=50051 metrics_port=9090
//
// Thread safety: Start and RunUntilSignal from main(); Shutdown from any thread.
#ifndef PLUMB_COMMON_SERVICE_SERVICE_HOST_H_
#define PLUMB_COMMON_SERVICE_SERVICE_HOST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/metrics/metrics_http_server.h"
#include "common/metrics/registry.h"
#include "common/rpc/server_runner.h"
#include "common/service/service_config.h"

namespace plumb::service {

// The version reported by plumb_build_info and --version.
const char* PlumbVersion();

class ServiceHost {
 public:
  // `component` is the binary's name, e.g. "plumb-generator". The registry and the services must
  // outlive the host.
  static absl::StatusOr<std::unique_ptr<ServiceHost>> Start(
      const ServiceConfig& config, const std::string& component,
      const std::vector<rpc::HostedService>& services, metrics::Registry* registry);

  int grpc_port() const { return runner_->port(); }
  // 0 when the metrics endpoint is disabled.
  int metrics_port() const { return metrics_server_ ? metrics_server_->port() : 0; }

  // Waits for SIGTERM or SIGINT, then drains calls for server.shutdown_grace and returns the
  // process exit code (0).
  int RunUntilSignal();

  void Shutdown(absl::Duration grace) { runner_->Shutdown(grace); }

 private:
  ServiceHost() = default;

  ServiceConfig config_;
  std::string component_;
  std::unique_ptr<rpc::ServerRunner> runner_;
  std::unique_ptr<metrics::MetricsHttpServer> metrics_server_;
};

// A service main()'s last step: Start the host, then RunUntilSignal. Returns the process exit
// code (1 with "<component>: <message>" on stderr when the host cannot start).
int ServeUntilSignal(const ServiceConfig& config, const std::string& component,
                     const std::vector<rpc::HostedService>& services, metrics::Registry* registry);

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_SERVICE_HOST_H_
