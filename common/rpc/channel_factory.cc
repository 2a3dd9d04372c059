#include "common/rpc/channel_factory.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"

namespace plumb::rpc {
namespace {

std::string JsonDuration(absl::Duration d) {
  return absl::StrFormat("%.3fs", absl::ToDoubleSeconds(d));
}

}  // namespace

std::string RetryServiceConfigJson(const RetryOptions& retry) {
  // gRPC rejects a retry policy of fewer than 2 attempts: one attempt means no policy at all.
  if (retry.max_attempts < 2) return R"({"methodConfig":[{"name":[{}]}]})";
  return absl::StrCat(R"({"methodConfig":[{"name":[{}],"retryPolicy":{"maxAttempts":)",
                      retry.max_attempts, R"(,"initialBackoff":")",
                      JsonDuration(retry.initial_backoff), R"(","maxBackoff":")",
                      JsonDuration(retry.max_backoff), R"(","backoffMultiplier":)",
                      absl::StrFormat("%g", retry.backoff_multiplier),
                      R"(,"retryableStatusCodes":["UNAVAILABLE"]}}]})");
}

absl::Status ParseChannelOptions(config::ConfigMap& section, ChannelOptions* options) {
  RETURN_IF_ERROR(section.Read("target", &options->target));
  RETURN_IF_ERROR(section.Read("deadline", &options->default_deadline, absl::Milliseconds(1)));
  RETURN_IF_ERROR(section.Read("max_receive_message_bytes", &options->max_receive_message_bytes,
                               config::IntRange{1024, 1 << 30}));
  RETURN_IF_ERROR(section.Read("max_send_message_bytes", &options->max_send_message_bytes,
                               config::IntRange{1024, 1 << 30}));
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> retry, section.Child("retry"));
  if (retry.has_value()) {
    RETURN_IF_ERROR(
        retry->Read("max_attempts", &options->retry.max_attempts, config::IntRange{1, 5}));
    RETURN_IF_ERROR(
        retry->Read("initial_backoff", &options->retry.initial_backoff, absl::Milliseconds(1)));
    RETURN_IF_ERROR(retry->Read("max_backoff", &options->retry.max_backoff, absl::Milliseconds(1)));
    RETURN_IF_ERROR(retry->Read("backoff_multiplier", &options->retry.backoff_multiplier,
                                config::DoubleRange{1.0, 10.0}));
    RETURN_IF_ERROR(retry->Finish());
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> tls, section.Child("tls"));
  if (tls.has_value()) {
    ClientTlsOptions tls_options;
    RETURN_IF_ERROR(tls->ReadFileContents("ca_file", &tls_options.root_ca_pem));
    RETURN_IF_ERROR(tls->ReadFileContents("cert_file", &tls_options.cert_pem));
    RETURN_IF_ERROR(tls->ReadFileContents("key_file", &tls_options.key_pem));
    RETURN_IF_ERROR(tls->Read("server_name_override", &tls_options.server_name_override));
    if (tls_options.cert_pem.empty() != tls_options.key_pem.empty()) {
      return tls->Error(tls_options.cert_pem.empty() ? "cert_file" : "key_file",
                        "a client certificate needs both cert_file and key_file");
    }
    RETURN_IF_ERROR(tls->Finish());
    options->tls = std::move(tls_options);
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> auth, section.Child("auth"));
  if (auth.has_value()) {
    RETURN_IF_ERROR(auth->ReadFileContents("token_file", &options->bearer_token));
    options->bearer_token = std::string(absl::StripAsciiWhitespace(options->bearer_token));
    RETURN_IF_ERROR(auth->Finish());
  }
  return section.Finish();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateChannel(const ChannelOptions& options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("channel target is empty; expected host:port");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  grpc::ChannelArguments args;
  if (options.tls.has_value()) {
    if (options.tls->cert_pem.empty() != options.tls->key_pem.empty()) {
      return absl::InvalidArgumentError("a client certificate needs both its chain and its key");
    }
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls->root_ca_pem;
    ssl.pem_cert_chain = options.tls->cert_pem;
    ssl.pem_private_key = options.tls->key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls->server_name_override.empty()) {
      args.SetSslTargetNameOverride(options.tls->server_name_override);
    }
  } else {
    credentials = grpc::InsecureChannelCredentials();
  }
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  args.SetMaxSendMessageSize(options.max_send_message_bytes);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, options.retry.max_attempts >= 2 ? 1 : 0);
  args.SetServiceConfigJSON(RetryServiceConfigJson(options.retry));
  return grpc::CreateCustomChannel(options.target, credentials, args);
}

std::unique_ptr<grpc::ClientContext> NewClientContext(const ChannelOptions& options,
                                                      std::optional<absl::Duration> deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(
      absl::ToChronoTime(absl::Now() + deadline.value_or(options.default_deadline)));
  if (!options.bearer_token.empty()) {
    context->AddMetadata("authorization", "Bearer " + options.bearer_token);
  }
  return context;
}

}  // namespace plumb::rpc
