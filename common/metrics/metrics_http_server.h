// Serves a Registry over HTTP for Prometheus to scrape:
//   GET /metrics  -> the registry in text format 0.0.4 (Content-Type kPrometheusTextContentType)
//   GET /healthz  -> "ok" (never needs the token: liveness probes carry none)
//   anything else -> 404
//
//   ASSIGN_OR_RETURN(auto server, MetricsHttpServer::Start({.port = 9090}, &registry));
//
// Listens on loopback unless told otherwise. Optional HTTPS (cert/key PEM files) and an optional
// bearer token that /metrics then requires (401 without it), as Prometheus' `authorization:
// credentials_file` sends it.
//
// Threading model: Start() returns once the server is listening; requests are handled on the
// server's own bounded thread pool (kWorkerThreads), each calling Registry::Collect(). A client
// that connects and sends nothing holds a worker for at most the read timeout, so a handful of
// half-open connections cannot starve a scrape. The destructor stops accepting, finishes
// in-flight requests and joins those threads. The Registry must outlive the server.
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
    std::string host = "127.0.0.1";
    int port = 0;  // 0 picks a free port; read it back with port().
    // HTTPS when both are set (paths to PEM files).
    std::string tls_cert_file, tls_key_file;
    // Non-empty: GET /metrics must carry "Authorization: Bearer <token>".
    std::string bearer_token;
    // How long a connection may take to send its request before it is dropped.
    int read_timeout_ms = 1000;
  };

  static constexpr size_t kWorkerThreads = 16;

  // InvalidArgument for a null registry, a port outside [0, 65535], only one of the TLS files, or
  // TLS files that do not load; Unavailable when the
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
