// plumb-test-echo-server: the EchoService behind the common service host, so tests can exercise a
// real process (config file, ready line, /metrics, SIGTERM drain, exit code).
//
//   plumb-test-echo-server --config echo.yaml
#include <cstdio>
#include <cstring>
#include <string>

#include "common/metrics/registry.h"
#include "common/service/service_host.h"
#include "tests/support/echo_service.h"

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--config FILE]\n", argv[0]);
      return 2;
    }
  }
  absl::StatusOr<plumb::service::ServiceConfig> config =
      plumb::service::LoadServiceConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "plumb-test-echo-server: %s\n", config.status().ToString().c_str());
    return 2;
  }
  plumb::metrics::Registry registry;
  plumb::testing::EchoServiceImpl service;
  absl::StatusOr<std::unique_ptr<plumb::service::ServiceHost>> host =
      plumb::service::ServiceHost::Start(
          *config, "plumb-test-echo-server",
          {plumb::rpc::Hosted<plumb::v1::testing::EchoService>(&service)}, &registry);
  if (!host.ok()) {
    std::fprintf(stderr, "plumb-test-echo-server: %s\n", host.status().ToString().c_str());
    return 1;
  }
  return (*host)->RunUntilSignal();
}
