#include "services/plumbctl/connection_settings.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/config/config_map.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::plumbctl {
namespace {

// PEM files and tokens are small; refuse anything larger before reading it.
constexpr size_t kMaxCredentialFileBytes = size_t{1} << 20;

absl::StatusOr<std::string> ReadCredentialFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(what, ": cannot open ", Echo(path)));
  std::string text;
  char buffer[4096];
  while (in.read(buffer, sizeof(buffer)) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxCredentialFileBytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": ", Echo(path), " is larger than ",
                                                     kMaxCredentialFileBytes, " bytes"));
    }
  }
  return text;
}

// Settings from the config file, as the file wrote them (paths made absolute).
struct FileSettings {
  std::string address, tls_ca, tls_cert, tls_key, token_file;
  std::optional<absl::Duration> timeout;
};

absl::StatusOr<FileSettings> ReadConfigFile(const std::string& path) {
  FileSettings file;
  ASSIGN_OR_RETURN(config::ConfigMap root, config::ConfigMap::FromFile(path));
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  auto path_key = [&](config::ConfigMap& map, absl::string_view key,
                      std::string* out) -> absl::Status {
    RETURN_IF_ERROR(map.Read(key, out));
    if (!out->empty() && std::filesystem::path(*out).is_relative()) {
      *out = (folder / *out).string();
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(root.Read("address", &file.address));
  RETURN_IF_ERROR(path_key(root, "token_file", &file.token_file));
  if (root.Has("timeout")) {
    absl::Duration timeout;
    RETURN_IF_ERROR(root.Read("timeout", &timeout, absl::Milliseconds(1)));
    file.timeout = timeout;
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> tls, root.Child("tls"));
  if (tls.has_value()) {
    RETURN_IF_ERROR(path_key(*tls, "ca_file", &file.tls_ca));
    RETURN_IF_ERROR(path_key(*tls, "cert_file", &file.tls_cert));
    RETURN_IF_ERROR(path_key(*tls, "key_file", &file.tls_key));
    RETURN_IF_ERROR(tls->Finish());
  }
  RETURN_IF_ERROR(root.Finish());
  return file;
}

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text, absl::string_view source) {
  absl::Duration timeout;
  if (!absl::ParseDuration(text, &timeout) || timeout <= absl::ZeroDuration() ||
      timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", Echo(text), " is not a positive duration; expected e.g. 30s, 500ms, 2m"));
  }
  return timeout;
}

}  // namespace

EnvLookup ProcessEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };
}

std::string ConfigFilePath(const ConnectionFlags& flags, const EnvLookup& env) {
  if (!flags.config_file.empty()) return flags.config_file;
  if (std::optional<std::string> named = env("PLUMB_CONFIG")) return *named;
  if (std::optional<std::string> xdg = env("XDG_CONFIG_HOME")) {
    return (std::filesystem::path(*xdg) / "plumb" / "config.yaml").string();
  }
  if (std::optional<std::string> home = env("HOME")) {
    return (std::filesystem::path(*home) / ".config" / "plumb" / "config.yaml").string();
  }
  return "";
}

absl::StatusOr<ConnectionSettings> ResolveConnectionSettings(const ConnectionFlags& flags,
                                                             const EnvLookup& env) {
  const std::string config_path = ConfigFilePath(flags, env);
  const bool named = !flags.config_file.empty() || env("PLUMB_CONFIG").has_value();
  FileSettings file;
  std::error_code error;
  if (!config_path.empty() && std::filesystem::exists(config_path, error)) {
    ASSIGN_OR_RETURN(file, ReadConfigFile(config_path));
  } else if (named) {
    return absl::NotFoundError(absl::StrCat("config file ", Echo(config_path), " does not exist"));
  }
  ConnectionSettings settings;
  // flag > environment > file > default, for one string setting.
  auto pick = [&](const std::string& flag, const char* variable, const std::string& from_file,
                  std::string* out) {
    if (!flag.empty()) {
      *out = flag;
    } else if (std::optional<std::string> value = env(variable)) {
      *out = *value;
    } else if (!from_file.empty()) {
      *out = from_file;
    }
  };
  pick(flags.address, "PLUMB_ADDRESS", file.address, &settings.address);
  pick(flags.tls_ca, "PLUMB_TLS_CA", file.tls_ca, &settings.tls_ca);
  pick(flags.tls_cert, "PLUMB_TLS_CERT", file.tls_cert, &settings.tls_cert);
  pick(flags.tls_key, "PLUMB_TLS_KEY", file.tls_key, &settings.tls_key);
  pick(flags.token_file, "PLUMB_TOKEN_FILE", file.token_file, &settings.token_file);
  if (!flags.timeout.empty()) {
    ASSIGN_OR_RETURN(settings.timeout, ParseTimeout(flags.timeout, "--timeout"));
  } else if (std::optional<std::string> value = env("PLUMB_TIMEOUT")) {
    ASSIGN_OR_RETURN(settings.timeout, ParseTimeout(*value, "PLUMB_TIMEOUT"));
  } else if (file.timeout.has_value()) {
    settings.timeout = *file.timeout;
  }
  settings.tls = flags.tls || !settings.tls_ca.empty() || !settings.tls_cert.empty() ||
                 !settings.tls_key.empty();
  settings.insecure_token = flags.insecure_token;
  return settings;
}

absl::StatusOr<rpc::ChannelOptions> ToChannelOptions(const ConnectionSettings& settings) {
  rpc::ChannelOptions options;
  options.target = settings.address;
  options.default_deadline = settings.timeout;
  if (settings.tls) {
    if (settings.tls_cert.empty() != settings.tls_key.empty()) {
      return absl::InvalidArgumentError(
          "--tls-cert and --tls-key: a client certificate needs both the certificate and its key");
    }
    rpc::ClientTlsOptions tls;
    if (!settings.tls_ca.empty()) {
      ASSIGN_OR_RETURN(tls.root_ca_pem, ReadCredentialFile(settings.tls_ca, "--tls-ca"));
    }
    if (!settings.tls_cert.empty()) {
      ASSIGN_OR_RETURN(tls.cert_pem, ReadCredentialFile(settings.tls_cert, "--tls-cert"));
      ASSIGN_OR_RETURN(tls.key_pem, ReadCredentialFile(settings.tls_key, "--tls-key"));
    }
    options.tls = std::move(tls);
  }
  if (!settings.token_file.empty()) {
    ASSIGN_OR_RETURN(std::string token, ReadCredentialFile(settings.token_file, "--token-file"));
    token = std::string(absl::StripAsciiWhitespace(token));
    if (token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token-file: ", Echo(settings.token_file), " is empty"));
    }
    for (char c : token) {
      // An HTTP/2 header value: visible ASCII and spaces only.
      if (c < 0x20 || c > 0x7e) {
        return absl::InvalidArgumentError(absl::StrCat("--token-file: ", Echo(settings.token_file),
                                                       " holds a non-printable character"));
      }
    }
    if (!settings.tls && !settings.insecure_token) {
      return absl::InvalidArgumentError(
          "--token-file: a bearer token needs TLS (a token sent in plaintext can be read by "
          "anyone on the network); give --tls-ca (or --tls), or --insecure-token to send it "
          "anyway");
    }
    options.bearer_token = std::move(token);
  }
  return options;
}

}  // namespace plumb::plumbctl
