#include "common/rpc/server_runner.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <openssl/crypto.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace plumb::rpc {
namespace {

constexpr absl::string_view kHealthPathPrefix = "/grpc.health.v1.Health/";

// Accepts a call when its "authorization" header is "Bearer <token>"; health checks pass without
// one so that load balancers and Kubernetes probes need no secret. Compares in constant time.
class BearerTokenProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenProcessor(std::string token) : expected_("Bearer " + std::move(token)) {}

  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* /*context*/,
                       OutputMetadata* consumed, OutputMetadata* /*response*/) override {
    auto path = metadata.find(":path");
    if (path != metadata.end() &&
        absl::StartsWith(absl::string_view(path->second.data(), path->second.size()),
                         kHealthPathPrefix)) {
      return grpc::Status::OK;
    }
    auto header = metadata.find("authorization");
    if (header == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "this server requires a bearer token: send the metadata "
                          "'authorization: Bearer <token>'");
    }
    const grpc::string_ref& got = header->second;
    if (got.size() != expected_.size() ||
        CRYPTO_memcmp(got.data(), expected_.data(), expected_.size()) != 0) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
    }
    consumed->insert({std::string(header->first.data(), header->first.size()),
                      std::string(got.data(), got.size())});
    return grpc::Status::OK;
  }

 private:
  const std::string expected_;
};

std::shared_ptr<grpc::ServerCredentials> MakeCredentials(const ServerOptions& options) {
  if (!options.tls.has_value()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      options.tls->client_ca_pem.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = options.tls->client_ca_pem;
  ssl.pem_key_cert_pairs.push_back({options.tls->key_pem, options.tls->cert_pem});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(
    const ServerOptions& options, const std::vector<HostedService>& services,
    InterceptorFactories interceptors) {
  grpc::EnableDefaultHealthCheckService(true);
  if (options.reflection) grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> credentials = MakeCredentials(options);
  if (!options.bearer_token.empty()) {
    if (!options.tls.has_value()) {
      return absl::InvalidArgumentError(
          "bearer-token authentication needs TLS: configure server.tls as well");
    }
    credentials->SetAuthMetadataProcessor(
        std::make_shared<BearerTokenProcessor>(options.bearer_token));
  }

  auto runner = std::unique_ptr<ServerRunner>(new ServerRunner());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, credentials, &runner->port_);
  // Without this, gRPC sets SO_REUSEPORT and a second server on a taken port starts "fine" and
  // silently shares the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_time)));
  builder.AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_timeout)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Let clients ping as often as our own keepalive does without being disconnected as abusive.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(options.keepalive_time)));
  for (const HostedService& hosted : services) {
    builder.RegisterService(hosted.service);
    runner->service_names_.push_back(hosted.name);
  }
  if (!interceptors.empty()) builder.experimental().SetInterceptorCreators(std::move(interceptors));

  runner->server_ = builder.BuildAndStart();
  if (runner->server_ == nullptr || runner->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve gRPC on '", options.address,
                     "': the address is in use, not local, or malformed, or the TLS "
                     "certificate and key do not form a valid pair"));
  }
  runner->SetServing(true);
  return runner;
}

ServerRunner::~ServerRunner() { Shutdown(absl::ZeroDuration()); }

void ServerRunner::SetServing(bool serving) {
  if (server_ == nullptr) return;
  if (grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService()) {
    health->SetServingStatus("", serving);
    for (const std::string& name : service_names_) health->SetServingStatus(name, serving);
  }
}

void ServerRunner::Shutdown(absl::Duration grace) {
  bool first = false;
  {
    absl::MutexLock lock(&mu_);
    if (server_ == nullptr) return;
    first = !shutdown_started_;
    shutdown_started_ = true;
  }
  if (!first) return Wait();
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  absl::MutexLock lock(&mu_);
  stopped_ = true;
}

void ServerRunner::Wait() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&stopped_));
}

}  // namespace plumb::rpc
