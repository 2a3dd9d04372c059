#include "common/metrics/metrics_http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/metrics/text_format.h"

namespace plumb::metrics {
namespace {

// Prometheus scrapes far less often than this, so longer keep-alive only delays shutdown.
constexpr time_t kKeepAliveSeconds = 1;

// httplib's default also sets SO_REUSEPORT, which would let two processes bind one port and split
// its scrapes between them; a clash must fail loudly instead.
void ReuseAddressOnly(socket_t sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// Compares a presented token with the expected one in time independent of where they differ.
bool SameToken(std::string_view presented, std::string_view expected) {
  if (presented.size() != expected.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(presented[i] ^ expected[i]);
  }
  return diff == 0;
}

}  // namespace

struct MetricsHttpServer::Impl {
  std::unique_ptr<httplib::Server> owned;
  httplib::Server& server() { return *owned; }
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
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "metrics server: HTTPS needs both a certificate and a key file");
  }
  if (!options.tls_cert_file.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert_file.c_str(),
                                                    options.tls_key_file.c_str());
    if (!ssl->is_valid()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics server: cannot load the TLS certificate ", options.tls_cert_file,
                       " and key ", options.tls_key_file, " (PEM files expected)"));
    }
    impl->owned = std::move(ssl);
  } else {
    impl->owned = std::make_unique<httplib::Server>();
  }
  httplib::Server& server = impl->server();
  server.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
  server.set_socket_options(ReuseAddressOnly);
  server.set_keep_alive_timeout(kKeepAliveSeconds);
  server.set_read_timeout(std::chrono::milliseconds(std::max(options.read_timeout_ms, 1)));
  server.set_write_timeout(std::chrono::seconds(5));
  server.Get("/metrics", [registry, token = options.bearer_token](const httplib::Request& request,
                                                                  httplib::Response& response) {
    if (!token.empty()) {
      const std::string header = request.get_header_value("Authorization");
      constexpr std::string_view kBearer = "Bearer ";
      if (header.rfind(kBearer, 0) != 0 ||
          !SameToken(std::string_view(header).substr(kBearer.size()), token)) {
        response.status = 401;
        response.set_header("WWW-Authenticate", "Bearer");
        response.set_content("a bearer token is required\n", "text/plain; charset=utf-8");
        return;
      }
    }
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
    raw->server().listen_after_bind();
    raw->listener_done = true;
  });
  // httplib::Server::stop() does nothing until the accept loop has started, so wait for it here
  // rather than let an early destructor hang.
  while (!raw->server().is_running() && !raw->listener_done) {
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
  impl_->server().stop();
  impl_->listener.join();
}

int MetricsHttpServer::port() const { return impl_->port; }

}  // namespace plumb::metrics
