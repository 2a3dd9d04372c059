// Runs a gRPC server for a set of services with the options of ServerOptions: TLS or mutual TLS,
// bearer-token authentication, message-size limits, keepalive, the standard health service
// (grpc.health.v1.Health, one status per service plus the overall "" entry) and server
// reflection. Shutdown marks every service NOT_SERVING, stops accepting calls, lets the calls in
// flight finish until the grace deadline, then cancels what is left.
//
// Thread safety: all methods may be called from any thread. The services passed to Start must
// outlive the runner.
#ifndef PLUMB_COMMON_RPC_SERVER_RUNNER_H_
#define PLUMB_COMMON_RPC_SERVER_RUNNER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/rpc/server_options.h"

namespace grpc {
class Server;
class Service;
namespace experimental {
class ServerInterceptorFactoryInterface;
}
}  // namespace grpc

namespace plumb::rpc {

// A service implementation and its full proto name ("plumb.v1.Generator"), under which its
// health status is reported. Build one with Hosted<plumb::v1::Generator>(&impl).
struct HostedService {
  grpc::Service* service;
  std::string name;
};

template <typename ServiceDefinition>
HostedService Hosted(grpc::Service* implementation) {
  return {implementation, ServiceDefinition::service_full_name()};
}

class ServerRunner {
 public:
  // Interceptors see every call (e.g. to count requests); the runner takes ownership.
  using InterceptorFactories =
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>;

  // Binds options.address and starts serving; every service is marked SERVING.
  // UNAVAILABLE when the address cannot be bound or the TLS material is unusable;
  // INVALID_ARGUMENT for a bearer token without TLS.
  static absl::StatusOr<std::unique_ptr<ServerRunner>> Start(
      const ServerOptions& options, const std::vector<HostedService>& services,
      InterceptorFactories interceptors = {});

  ~ServerRunner();  // Shutdown(zero grace) if still running

  // The bound port (the one picked when the address asked for port 0).
  int port() const { return port_; }

  // Health status reported for every service and for the overall server ("").
  void SetServing(bool serving);

  // Stops accepting calls and waits up to `grace` for calls in flight; then cancels them.
  // Returns once the server has stopped. Idempotent.
  void Shutdown(absl::Duration grace);

  // Blocks until Shutdown has completed (from another thread).
  void Wait();

 private:
  ServerRunner() = default;

  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> service_names_;
  int port_ = 0;
  absl::Mutex mu_;
  bool shutdown_started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_SERVER_RUNNER_H_
