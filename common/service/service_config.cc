#include "common/service/service_config.h"

#include "common/status/status_macros.h"

namespace plumb::service {

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
    RETURN_IF_ERROR(metrics->Finish());
  }

  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> logging, root.Child("logging"));
  if (logging.has_value()) RETURN_IF_ERROR(ParseLoggingOptions(*logging, &result.logging));

  if (parse_service) RETURN_IF_ERROR(parse_service(root));
  RETURN_IF_ERROR(root.Finish());
  return result;
}

}  // namespace plumb::service
