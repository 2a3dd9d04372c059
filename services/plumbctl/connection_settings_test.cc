#include "services/plumbctl/connection_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "services/plumbctl/plumbctl_test_util.h"

namespace plumb::plumbctl {
namespace {

using ::testing::HasSubstr;

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

TEST(ConnectionSettingsTest, FlagsBeatTheEnvironmentWhichBeatsTheConfigFile) {
  const std::string xdg = MakeTempFolder();
  WriteFile(xdg, "plumb/config.yaml",
            "address: file:1\ntimeout: 5s\ntoken_file: token\ntls:\n  ca_file: /abs/ca.pem\n");
  std::map<std::string, std::string> env = {{"XDG_CONFIG_HOME", xdg}, {"PLUMB_ADDRESS", "env:2"}};

  ConnectionFlags flags;
  flags.address = "flag:3";
  absl::StatusOr<ConnectionSettings> settings = ResolveConnectionSettings(flags, Env(env));
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->address, "flag:3");

  settings = ResolveConnectionSettings(ConnectionFlags{}, Env(env));
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->address, "env:2");
  // Keys the flags and environment leave unset still come from the file; its relative paths are
  // relative to its folder.
  EXPECT_EQ(settings->timeout, absl::Seconds(5));
  EXPECT_EQ(settings->token_file, xdg + "/plumb/token");
  EXPECT_EQ(settings->tls_ca, "/abs/ca.pem");
  EXPECT_TRUE(settings->tls);

  env.erase("PLUMB_ADDRESS");
  env["PLUMB_TIMEOUT"] = "750ms";
  settings = ResolveConnectionSettings(ConnectionFlags{}, Env(env));
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->address, "file:1");
  EXPECT_EQ(settings->timeout, absl::Milliseconds(750));
}

TEST(ConnectionSettingsTest, WithoutAnyConfigTheDefaultsApply) {
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnectionSettings(ConnectionFlags{}, Env({{"HOME", MakeTempFolder()}}));
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->address, "127.0.0.1:50060");
  EXPECT_EQ(settings->timeout, absl::Seconds(30));
  EXPECT_FALSE(settings->tls);
}

TEST(ConnectionSettingsTest, TheHomeConfigFileIsUsedWithoutXdgConfigHome) {
  const std::string home = MakeTempFolder();
  WriteFile(home, ".config/plumb/config.yaml", "address: home:9\n");
  EXPECT_EQ(ConfigFilePath(ConnectionFlags{}, Env({{"HOME", home}})),
            home + "/.config/plumb/config.yaml");
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnectionSettings(ConnectionFlags{}, Env({{"HOME", home}}));
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->address, "home:9");
}

TEST(ConnectionSettingsTest, AnUnknownConfigKeyIsAnErrorNamingIt) {
  const std::string folder = MakeTempFolder();
  const std::string path = WriteFile(folder, "c.yaml", "adress: x:1\n");
  ConnectionFlags flags;
  flags.config_file = path;
  absl::StatusOr<ConnectionSettings> settings = ResolveConnectionSettings(flags, Env({}));
  ASSERT_FALSE(settings.ok());
  EXPECT_THAT(settings.status().message(), HasSubstr("adress"));
}

TEST(ConnectionSettingsTest, ANamedConfigFileMustExist) {
  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnectionSettings(ConnectionFlags{}, Env({{"PLUMB_CONFIG", "/nonexistent/c.yaml"}}));
  EXPECT_EQ(settings.status().code(), absl::StatusCode::kNotFound);
}

TEST(ConnectionSettingsTest, ABadTimeoutNamesItsSource) {
  ConnectionFlags flags;
  flags.timeout = "soon";
  EXPECT_THAT(ResolveConnectionSettings(flags, Env({})).status().message(),
              HasSubstr("--timeout: \"soon\""));
  EXPECT_THAT(ResolveConnectionSettings(ConnectionFlags{}, Env({{"PLUMB_TIMEOUT", "-1s"}}))
                  .status()
                  .message(),
              HasSubstr("PLUMB_TIMEOUT"));
}

TEST(ConnectionSettingsTest, ATokenNeedsTlsOrInsecureToken) {
  const std::string token = WriteFile(MakeTempFolder(), "token", "  abc \n");
  ConnectionSettings settings;
  settings.token_file = token;
  EXPECT_THAT(ToChannelOptions(settings).status().message(), HasSubstr("needs TLS"));
  settings.insecure_token = true;
  absl::StatusOr<rpc::ChannelOptions> options = ToChannelOptions(settings);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->bearer_token, "abc");
  settings.insecure_token = false;
  settings.tls = true;
  EXPECT_TRUE(ToChannelOptions(settings).ok());
}

TEST(ConnectionSettingsTest, AnEmptyOrBinaryTokenIsRefused) {
  ConnectionSettings settings;
  settings.insecure_token = true;
  settings.token_file = WriteFile(MakeTempFolder(), "token", " \n");
  EXPECT_THAT(ToChannelOptions(settings).status().message(), HasSubstr("is empty"));
  settings.token_file = WriteFile(MakeTempFolder(), "token", std::string("a\x01z", 3));
  EXPECT_THAT(ToChannelOptions(settings).status().message(), HasSubstr("non-printable"));
}

TEST(ConnectionSettingsTest, AClientCertificateNeedsItsKey) {
  ConnectionSettings settings;
  settings.tls = true;
  settings.tls_cert = WriteFile(MakeTempFolder(), "cert.pem", "x");
  EXPECT_EQ(ToChannelOptions(settings).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace plumb::plumbctl
