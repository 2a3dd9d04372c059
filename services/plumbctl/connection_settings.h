// Where plumbctl connects and how: address, TLS files, bearer token and call timeout, each taken
// from the first of (1) its command-line flag, (2) its environment variable, (3) the config file
// ($XDG_CONFIG_HOME/plumb/config.yaml, else ~/.config/plumb/config.yaml, or the file named by
// --config / PLUMB_CONFIG), (4) the default. Each setting is resolved on its own, so a flag
// overrides one key of the file and keeps the others.
//
//   setting     flag           environment        config file key
//   address     --address      PLUMB_ADDRESS      address          (default 127.0.0.1:50060)
//   CA          --tls-ca       PLUMB_TLS_CA       tls.ca_file
//   cert        --tls-cert     PLUMB_TLS_CERT     tls.cert_file    (mutual TLS, with the key)
//   key         --tls-key      PLUMB_TLS_KEY      tls.key_file
//   token       --token-file   PLUMB_TOKEN_FILE   token_file       (sent as a bearer token)
//   timeout     --timeout      PLUMB_TIMEOUT      timeout          (default 30s; per unary call)
//
// Relative paths in the config file are relative to the file's folder. TLS is used when a CA,
// a client certificate or --tls is given. A bearer token over plaintext is refused unless
// --insecure-token is given (the servers refuse it the same way).
#ifndef PLUMB_SERVICES_PLUMBCTL_CONNECTION_SETTINGS_H_
#define PLUMB_SERVICES_PLUMBCTL_CONNECTION_SETTINGS_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rpc/channel_factory.h"

namespace plumb::plumbctl {

inline constexpr char kDefaultAddress[] = "127.0.0.1:50060";

// Reads an environment variable; nullopt when unset. Injected so tests never see the real one.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (std::getenv); an empty value counts as unset.
EnvLookup ProcessEnvironment();

// Flag values as typed; empty = not given.
struct ConnectionFlags {
  std::string config_file;
  std::string address;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string token_file;
  std::string timeout;  // an absl duration: "30s", "500ms", "2m"
  bool tls = false;
  bool insecure_token = false;
};

// The resolved settings, paths not yet read.
struct ConnectionSettings {
  std::string address = kDefaultAddress;
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string token_file;
  absl::Duration timeout = absl::Seconds(30);
  bool tls = false;
  bool insecure_token = false;
};

// The config file that applies: --config, else PLUMB_CONFIG, else the XDG / HOME default ("" when
// neither XDG_CONFIG_HOME nor HOME is set). Only an explicitly named file must exist.
std::string ConfigFilePath(const ConnectionFlags& flags, const EnvLookup& env);

// Applies the precedence above. INVALID_ARGUMENT naming the flag, variable or file key for a bad
// value (an unparsable timeout, an unknown key in the file); NOT_FOUND for an explicitly named
// config file that does not exist.
absl::StatusOr<ConnectionSettings> ResolveConnectionSettings(const ConnectionFlags& flags,
                                                             const EnvLookup& env);

// Reads the PEM and token files (bounded) into channel options. INVALID_ARGUMENT for a
// certificate without its key, an empty or non-printable token, or a token without TLS and
// without insecure_token.
absl::StatusOr<rpc::ChannelOptions> ToChannelOptions(const ConnectionSettings& settings);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_CONNECTION_SETTINGS_H_
