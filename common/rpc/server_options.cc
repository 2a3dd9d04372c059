#include "common/rpc/server_options.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::rpc {

absl::Status ParseServerOptions(config::ConfigMap& section, ServerOptions* options) {
  RETURN_IF_ERROR(section.Read("address", &options->address));
  if (options->address.rfind(':') == std::string::npos) {
    return section.Error("address", absl::StrCat("'", options->address,
                                                 "' has no port; write host:port, e.g. "
                                                 "127.0.0.1:50051 (port 0 picks a free port)"));
  }
  const config::IntRange message_bytes{1024, 1 << 30};
  RETURN_IF_ERROR(section.Read("max_receive_message_bytes", &options->max_receive_message_bytes,
                               message_bytes));
  RETURN_IF_ERROR(
      section.Read("max_send_message_bytes", &options->max_send_message_bytes, message_bytes));
  RETURN_IF_ERROR(section.Read("keepalive_time", &options->keepalive_time, absl::Seconds(1)));
  RETURN_IF_ERROR(
      section.Read("keepalive_timeout", &options->keepalive_timeout, absl::Milliseconds(100)));
  RETURN_IF_ERROR(section.Read("shutdown_grace", &options->shutdown_grace));
  RETURN_IF_ERROR(section.Read("stream_idle_timeout", &options->stream_idle_timeout));
  RETURN_IF_ERROR(section.Read("reflection", &options->reflection));

  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> tls, section.Child("tls"));
  if (tls.has_value()) {
    ServerTlsOptions tls_options;
    RETURN_IF_ERROR(tls->ReadFileContents("cert_file", &tls_options.cert_pem));
    RETURN_IF_ERROR(tls->ReadFileContents("key_file", &tls_options.key_pem));
    RETURN_IF_ERROR(tls->ReadFileContents("client_ca_file", &tls_options.client_ca_pem));
    if (tls_options.cert_pem.empty() || tls_options.key_pem.empty()) {
      return tls->Error(tls_options.cert_pem.empty() ? "cert_file" : "key_file",
                        "TLS needs both cert_file and key_file (PEM files); remove the tls "
                        "section to serve plaintext");
    }
    RETURN_IF_ERROR(tls->Finish());
    options->tls = std::move(tls_options);
  }

  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> auth, section.Child("auth"));
  if (auth.has_value()) {
    RETURN_IF_ERROR(ParseBearerTokenSection(*auth, options->tls.has_value(), "server.tls",
                                            &options->bearer_token));
  }
  return section.Finish();
}

absl::Status ParseBearerTokenSection(config::ConfigMap& auth, bool tls_configured,
                                     absl::string_view tls_section, std::string* token) {
  std::string text;
  RETURN_IF_ERROR(auth.ReadFileContents("token_file", &text));
  text = std::string(absl::StripAsciiWhitespace(text));
  if (auth.Has("token_file") && text.empty()) {
    return auth.Error("token_file", "the token file is empty");
  }
  if (!text.empty() && !tls_configured) {
    return auth.Error("token_file",
                      absl::StrCat("a bearer token needs TLS (a token sent in plaintext can be "
                                   "read by anyone on the network); add a ",
                                   tls_section, " section"));
  }
  RETURN_IF_ERROR(auth.Finish());
  *token = std::move(text);
  return absl::OkStatus();
}

}  // namespace plumb::rpc
