// The sections every Plumb service's YAML shares, plus a hook for the service's own sections:
//
//   server:  { ... }          # common/rpc/server_options.h
//   metrics:
//     enabled: true
//     address: 127.0.0.1      # where /metrics is served over HTTP (loopback unless configured)
//     port: 9090              # 0 picks a free port
//     tls: { cert_file: server.pem, key_file: server.key }    # optional: HTTPS
//     auth: { token_file: /run/secrets/metrics-token }      # optional: /metrics needs the token
//   logging: { level: info, format: text }
//   <service sections>        # parsed by the service's callback
//
// Thread safety: start-up only.
#ifndef PLUMB_COMMON_SERVICE_SERVICE_CONFIG_H_
#define PLUMB_COMMON_SERVICE_SERVICE_CONFIG_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/config/config_map.h"
#include "common/logging/logging.h"
#include "common/rpc/server_options.h"

namespace plumb::service {

struct MetricsEndpointOptions {
  bool enabled = true;
  std::string address = "127.0.0.1";
  int port = 9090;
  std::string tls_cert_file, tls_key_file;  // HTTPS when set
  std::string bearer_token;                 // from auth.token_file; needs tls
};

struct ServiceConfig {
  rpc::ServerOptions server;
  MetricsEndpointOptions metrics;
  LoggingOptions logging;
};

// Reads the service's own top-level sections from the root mapping; called before the root's
// unknown-key check, so every key it reads counts as known.
using ServiceSectionParser = std::function<absl::Status(config::ConfigMap& root)>;

// Parses `path` (or, when `path` is empty, an empty config of defaults).
absl::StatusOr<ServiceConfig> LoadServiceConfig(const std::string& path,
                                                const ServiceSectionParser& parse_service = {});
absl::StatusOr<ServiceConfig> ParseServiceConfig(config::ConfigMap& root,
                                                 const ServiceSectionParser& parse_service = {});

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_SERVICE_CONFIG_H_
