#include "common/metrics/metrics_http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"

namespace plumb::metrics {
namespace {

// Scrapes are rare (every few seconds) and cheap; two workers let a slow one not block another.
constexpr size_t kWorkerThreads = 2;
// Prometheus scrapes far less often than this, so longer keep-alive only delays shutdown.
constexpr time_t kKeepAliveSeconds = 1;

// httplib's default also sets SO_REUSEPORT, which would let two processes bind one port and split
// its scrapes between them; a clash must fail loudly instead.
void ReuseAddressOnly(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

}  // namespace

struct MetricsHttpServer::Impl {
  httplib::Server server;
  std::thread listener;
  std::atomic<bool> listener_done{false};
  int port = 0;
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const Options& options, const Registry* registry) {
  if (registry == nullptr) return absl::InvalidArgumentError("metrics server: registry is null");
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics server: port ", options.port, " is outside [0, 65535]"));
  }
  auto impl = std::make_unique<Impl>();
  httplib::Server& server = impl->server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server.set_socket_options(ReuseAddressOnly);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(RenderPrometheusText(registry->Collect()),
                         std::string(kPrometheusTextContentType));
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok", "text/plain; charset=utf-8");
  });

  if (options.port == 0) {
    impl->port = server.bind_to_any_port(options.host);
  } else {
    impl->port = server.bind_to_port(options.host, options.port) ? options.port : -1;
  }
  if (impl->port <= 0) {
    return absl::UnavailableError(absl::StrCat("metrics server: cannot listen on ", options.host,
                                               ":", options.port,
                                               " (is the port taken or the host unknown?)"));
  }

  Impl* raw = impl.get();
  impl->listener = std::thread([raw] {
    raw->server.listen_after_bind();
    raw->listener_done = true;
  });
  // httplib::Server::stop() does nothing until the accept loop has started, so wait for it here
  // rather than let an early destructor hang.
  while (!raw->server.is_running() && !raw->listener_done) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (raw->listener_done) {
    raw->listener.join();
    return absl::InternalError(absl::StrCat("metrics server: the accept loop on ", options.host,
                                            ":", raw->port, " stopped as soon as it started"));
  }
  return std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(std::move(impl)));
}

MetricsHttpServer::MetricsHttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsHttpServer::~MetricsHttpServer() {
  impl_->server.stop();
  impl_->listener.join();
}

int MetricsHttpServer::port() const { return impl_->port; }

}  // namespace plumb::metrics
