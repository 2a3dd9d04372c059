// Client side of Plumb's RPCs: channels with optional TLS / mutual TLS, bearer tokens, message
// limits and automatic retries of UNAVAILABLE with exponential backoff (gRPC's own retry
// machinery, configured through the channel's service config), and per-call deadlines.
//
//   ChannelOptions options{.target = "gen-0:50051"};
//   std::shared_ptr<grpc::Channel> channel = CreateChannel(options).value();
//   std::unique_ptr<grpc::ClientContext> context = NewClientContext(options);
//   stub->Generate(context.get(), request, &response);
//
// Thread safety: channels are thread-safe and meant to be shared; a ClientContext serves one call.
#ifndef PLUMB_COMMON_RPC_CHANNEL_FACTORY_H_
#define PLUMB_COMMON_RPC_CHANNEL_FACTORY_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/config/config_map.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace plumb::rpc {

struct ClientTlsOptions {
  std::string root_ca_pem;           // CA that signed the server's certificate
  std::string cert_pem;              // client certificate chain, for mutual TLS
  std::string key_pem;               // its private key
  std::string server_name_override;  // check the certificate against this name instead
};

struct RetryOptions {
  int max_attempts = 5;  // first try included; gRPC caps this at 5; 1 disables retries
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  double backoff_multiplier = 2.0;
};

struct ChannelOptions {
  std::string target;  // host:port, or any gRPC target URI
  std::optional<ClientTlsOptions> tls;
  // Sent as "authorization: Bearer <token>" on every call made with NewClientContext.
  std::string bearer_token;
  absl::Duration default_deadline = absl::Seconds(30);
  RetryOptions retry;
  int max_receive_message_bytes = 4 << 20;
  int max_send_message_bytes = 4 << 20;
};

// Reads a client section (target, deadline, retry, tls.{ca_file,cert_file,key_file,
// server_name_override}, auth.token_file) into `options`.
absl::Status ParseChannelOptions(config::ConfigMap& section, ChannelOptions* options);

// INVALID_ARGUMENT for an empty target or a client certificate without its key.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ChannelOptions& options);

// A context for one call: deadline now + `deadline` (default_deadline when not given) and the
// bearer token, if any.
std::unique_ptr<grpc::ClientContext> NewClientContext(
    const ChannelOptions& options, std::optional<absl::Duration> deadline = std::nullopt);

// The JSON service config that carries the retry policy (exposed for tests and logs).
std::string RetryServiceConfigJson(const RetryOptions& retry);

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_CHANNEL_FACTORY_H_
