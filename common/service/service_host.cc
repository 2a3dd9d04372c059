#include "common/service/service_host.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/metrics/build_info.h"
#include "common/metrics/process_metrics.h"
#include "common/rpc/shutdown_signal.h"
#include "common/service/malloc_tuning.h"
#include "common/service/rpc_metrics.h"
#include "common/service/server_info.h"
#include "common/service/service_args.h"
#include "common/status/status_macros.h"

namespace plumb::service {

const char* PlumbVersion() { return PLUMB_VERSION; }

namespace {

// 127.0.0.0/8, ::1 and localhost: reachable from this machine only.
bool IsLoopbackHost(std::string_view host) {
  if (!host.empty() && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

std::string_view HostOf(std::string_view address) {
  const size_t colon = address.rfind(':');
  return colon == std::string_view::npos ? address : address.substr(0, colon);
}

// What an operator should know when a service is reachable from other machines unprotected.
void WarnAboutExposure(const ServiceConfig& config) {
  if (!IsLoopbackHost(HostOf(config.server.address)) && !config.server.tls.has_value()) {
    spdlog::warn(
        "gRPC listens on {} in plaintext without a token: anyone who reaches this address can "
        "call every RPC; add server.tls and server.auth (docs/security.md)",
        config.server.address);
  }
  if (config.metrics.enabled && !IsLoopbackHost(config.metrics.address) &&
      config.metrics.bearer_token.empty()) {
    spdlog::warn("/metrics is served on {} without a token (metrics.auth, docs/security.md)",
                 config.metrics.address);
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServiceHost>> ServiceHost::Start(
    const ServiceConfig& config, const std::string& component,
    const std::vector<rpc::HostedService>& services, metrics::Registry* registry) {
  InitLogging(config.logging, component);
  WarnAboutExposure(config);
  if (!TuneMallocForLargeBuffers()) spdlog::warn("glibc refused the malloc settings; continuing");
  RETURN_IF_ERROR(rpc::InstallShutdownSignalHandlers());
  RETURN_IF_ERROR(metrics::RegisterProcessMetrics(registry));
  RETURN_IF_ERROR(metrics::RegisterBuildInfo(registry, PlumbVersion(), component));

  auto host = std::unique_ptr<ServiceHost>(new ServiceHost());
  host->config_ = config;
  host->component_ = component;

  std::string label = component;
  if (label.rfind("plumb-", 0) == 0) label.erase(0, 6);
  rpc::ServerRunner::InterceptorFactories interceptors;
  ASSIGN_OR_RETURN(auto rpc_metrics, MakeRpcMetricsInterceptorFactory(registry, label));
  interceptors.push_back(std::move(rpc_metrics));

  if (config.metrics.enabled) {
    ASSIGN_OR_RETURN(host->metrics_server_, metrics::MetricsHttpServer::Start(
                                                {.host = config.metrics.address,
                                                 .port = config.metrics.port,
                                                 .tls_cert_file = config.metrics.tls_cert_file,
                                                 .tls_key_file = config.metrics.tls_key_file,
                                                 .bearer_token = config.metrics.bearer_token},
                                                registry));
  }
  ASSIGN_OR_RETURN(host->runner_,
                   rpc::ServerRunner::Start(config.server, services, std::move(interceptors)));
  spdlog::info("serving gRPC on port {} ({}{}), metrics on port {}", host->grpc_port(),
               config.server.tls.has_value() ? "TLS" : "plaintext",
               config.server.tls.has_value() && !config.server.tls->client_ca_pem.empty()
                   ? ", client certificates required"
                   : "",
               host->metrics_port());
  RecordServing(
      std::string(HostOf(config.server.address)) + ":" + std::to_string(host->grpc_port()),
      config.server.max_receive_message_bytes);
  std::printf("%s ready grpc_port=%d metrics_port=%d\n", component.c_str(), host->grpc_port(),
              host->metrics_port());
  std::fflush(stdout);
  return host;
}

int ServiceHost::RunUntilSignal() {
  const int signal_number = rpc::WaitForShutdownSignal();
  spdlog::info("received {}; draining calls for up to {}",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM",
               absl::FormatDuration(config_.server.shutdown_grace));
  runner_->Shutdown(config_.server.shutdown_grace);
  spdlog::info("stopped");
  return 0;
}

int ServeUntilSignal(const ServiceConfig& config, const std::string& component,
                     const std::vector<rpc::HostedService>& services, metrics::Registry* registry) {
  absl::StatusOr<std::unique_ptr<ServiceHost>> host =
      ServiceHost::Start(config, component, services, registry);
  if (!host.ok()) return ExitWithError(component, 1, host.status());
  return (*host)->RunUntilSignal();
}

}  // namespace plumb::service
