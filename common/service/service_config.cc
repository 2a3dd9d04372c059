#include "common/service/service_config.h"

#include "common/status/status_macros.h"

namespace plumb::service {
namespace {

// metrics.tls (HTTPS from PEM files) and metrics.auth (a bearer token /metrics then requires).
absl::Status ParseMetricsProtection(config::ConfigMap& metrics, MetricsEndpointOptions* options) {
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> tls, metrics.Child("tls"));
  if (tls.has_value()) {
    RETURN_IF_ERROR(tls->Read("cert_file", &options->tls_cert_file));
    RETURN_IF_ERROR(tls->Read("key_file", &options->tls_key_file));
    if (options->tls_cert_file.empty() || options->tls_key_file.empty()) {
      return tls->Error(options->tls_cert_file.empty() ? "cert_file" : "key_file",
                        "HTTPS needs both cert_file and key_file (PEM files); remove the tls "
                        "section to serve plain HTTP");
    }
    std::string pem;  // read once here so an unreadable file is reported with its key
    RETURN_IF_ERROR(tls->ReadFileContents("cert_file", &pem));
    RETURN_IF_ERROR(tls->ReadFileContents("key_file", &pem));
    RETURN_IF_ERROR(tls->Finish());
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> auth, metrics.Child("auth"));
  if (auth.has_value()) {
    RETURN_IF_ERROR(rpc::ParseBearerTokenSection(*auth, tls.has_value(), "metrics.tls",
                                                 &options->bearer_token));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ServiceConfig> LoadServiceConfig(const std::string& path,
                                                const ServiceSectionParser& parse_service) {
  absl::StatusOr<config::ConfigMap> root = path.empty()
                                               ? config::ConfigMap::FromString("", "<defaults>")
                                               : config::ConfigMap::FromFile(path);
  if (!root.ok()) return root.status();
  return ParseServiceConfig(*root, parse_service);
}

absl::StatusOr<ServiceConfig> ParseServiceConfig(config::ConfigMap& root,
                                                 const ServiceSectionParser& parse_service) {
  ServiceConfig result;
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> server, root.Child("server"));
  if (server.has_value()) RETURN_IF_ERROR(rpc::ParseServerOptions(*server, &result.server));

  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> metrics, root.Child("metrics"));
  if (metrics.has_value()) {
    RETURN_IF_ERROR(metrics->Read("enabled", &result.metrics.enabled));
    RETURN_IF_ERROR(metrics->Read("address", &result.metrics.address));
    RETURN_IF_ERROR(metrics->Read("port", &result.metrics.port, config::IntRange{0, 65535}));
    RETURN_IF_ERROR(ParseMetricsProtection(*metrics, &result.metrics));
    RETURN_IF_ERROR(metrics->Finish());
  }

  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> logging, root.Child("logging"));
  if (logging.has_value()) RETURN_IF_ERROR(ParseLoggingOptions(*logging, &result.logging));

  if (parse_service) RETURN_IF_ERROR(parse_service(root));
  RETURN_IF_ERROR(root.Finish());
  return result;
}

}  // namespace plumb::service
