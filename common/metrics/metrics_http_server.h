// Serves a Registry over HTTP for Prometheus to scrape:
//   GET /metrics  -> the registry in text format 0.0.4 (Content-Type kPrometheusTextContentType)
//   GET /healthz  -> "ok"
//   anything else -> 404
//
//   ASSIGN_OR_RETURN(auto server, MetricsHttpServer::Start({.port = 9090}, &registry));
//
// Threading model: Start() returns once the server is listening; requests are handled on the
// server's own small thread pool, each calling Registry::Collect(). The destructor stops
// accepting, finishes in-flight requests and joins those threads. The Registry must outlive the
// server.
#ifndef PLUMB_COMMON_METRICS_METRICS_HTTP_SERVER_H_
#define PLUMB_COMMON_METRICS_METRICS_HTTP_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

namespace plumb::metrics {

class MetricsHttpServer {
 public:
  struct Options {
    std::string host = "0.0.0.0";
    int port = 0;  // 0 picks a free port; read it back with port().
  };

  // InvalidArgument for a null registry or a port outside [0, 65535]; Unavailable when the
  // address cannot be bound (for example, the port is taken: the socket does not use
  // SO_REUSEPORT, so a second process cannot silently share it).
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const Options& options,
                                                                  const Registry* registry);

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  ~MetricsHttpServer();

  // The port actually bound.
  int port() const;

 private:
  struct Impl;  // Holds the httplib server, kept out of this header because httplib.h is heavy.
  explicit MetricsHttpServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_METRICS_HTTP_SERVER_H_
