// What a gRPC server listens on and how it protects itself: address, TLS / mutual TLS from PEM
// files, bearer-token authentication, message-size limits, keepalive and the shutdown drain.
// Filled from the `server:` section of a service's YAML by ParseServerOptions:
//
//   server:
//     address: "127.0.0.1:50051"      # host:port; port 0 picks a free port. Loopback by default:
//                                     # "0.0.0.0:50051" serves other machines (add tls + auth)
//     max_receive_message_bytes: 4194304
//     max_send_message_bytes: 4194304
//     keepalive_time: 30s             # ping an idle client this often
//     keepalive_timeout: 10s          # drop the connection if a ping is not answered in time
//     shutdown_grace: 30s             # SIGTERM: let in-flight calls finish for this long
//     stream_idle_timeout: 30s        # cancel a client stream silent this long (0s = never)
//     reflection: true                # serve grpc.reflection.v1alpha for grpcurl and friends
//     tls:                            # omit for plaintext
//       cert_file: server.pem
//       key_file: server.key
//       client_ca_file: ca.pem        # set to require and verify client certificates (mTLS)
//     auth:                           # needs tls
//       token_file: /run/secrets/plumb-token  # clients must send "authorization: Bearer <token>"
#ifndef PLUMB_COMMON_RPC_SERVER_OPTIONS_H_
#define PLUMB_COMMON_RPC_SERVER_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/config/config_map.h"

namespace plumb::rpc {

struct ServerTlsOptions {
  std::string cert_pem;       // server certificate chain
  std::string key_pem;        // its private key
  std::string client_ca_pem;  // non-empty: require client certificates signed by this CA
};

struct ServerOptions {
  std::string address = "127.0.0.1:0";
  int max_receive_message_bytes = 4 << 20;
  int max_send_message_bytes = 4 << 20;
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  absl::Duration shutdown_grace = absl::Seconds(30);
  // A client stream (a weight load) that sends nothing for this long is cancelled and its
  // resources released; 0 = never.
  absl::Duration stream_idle_timeout = absl::Seconds(30);
  bool reflection = true;
  std::optional<ServerTlsOptions> tls;
  // Non-empty: every call except health checks must carry "authorization: Bearer <token>".
  // Requires tls (gRPC runs authentication processors only on secure connections, and a token
  // in plaintext could be read off the network).
  std::string bearer_token;
};

// Reads an `auth:` section (token_file, whitespace stripped) into *token. Errors name the key: an
// empty token file, or a token where `tls_configured` is false (a token sent in plaintext can be
// read off the network; `tls_section` names the section that adds TLS, e.g. "server.tls").
// Shared by the gRPC server and the /metrics endpoint.
absl::Status ParseBearerTokenSection(config::ConfigMap& auth, bool tls_configured,
                                     absl::string_view tls_section, std::string* token);

// Reads a `server:` section. PEM and token files are read here, so a missing or unreadable file
// is reported at start-up with the key that named it.
absl::Status ParseServerOptions(config::ConfigMap& section, ServerOptions* options);

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_SERVER_OPTIONS_H_
