#include "common/service/service_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

namespace plumb::service {
namespace {

using ::testing::HasSubstr;

TEST(ServiceConfigTest, ReadsSharedSectionsAndTheServicesOwn) {
  auto root = config::ConfigMap::FromString(
      "server:\n  address: 127.0.0.1:0\nmetrics:\n  port: 0\n  address: 127.0.0.1\n"
      "logging:\n  level: debug\nechoer:\n  greeting: hi\n",
      "echo.yaml");
  ASSERT_TRUE(root.ok());
  std::string greeting;
  absl::StatusOr<ServiceConfig> config = ParseServiceConfig(*root, [&](config::ConfigMap& r) {
    auto section = r.Child("echoer");
    if (!section.ok()) return section.status();
    if (absl::Status s = (*section)->Read("greeting", &greeting); !s.ok()) return s;
    return (*section)->Finish();
  });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.address, "127.0.0.1:0");
  EXPECT_EQ(config->metrics.port, 0);
  EXPECT_EQ(config->metrics.address, "127.0.0.1");
  EXPECT_TRUE(config->metrics.enabled);
  EXPECT_EQ(config->logging.level, "debug");
  EXPECT_EQ(greeting, "hi");
}

TEST(ServiceConfigTest, MisspelledTopLevelSectionIsRefused) {
  auto root = config::ConfigMap::FromString("sever:\n  address: 127.0.0.1:0\n", "echo.yaml");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(ParseServiceConfig(*root).status().message(),
            "echo.yaml:1: key 'sever': unknown key; did you mean 'server'? (allowed here: "
            "logging, metrics, server)");
}

TEST(ServiceConfigTest, TheExampleConfigInTheRepositoryParses) {
  // configs/services/common.example.yaml documents every shared key; it must stay valid.
  absl::StatusOr<ServiceConfig> config = LoadServiceConfig("configs/services/common.example.yaml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.address, "127.0.0.1:50051");
  EXPECT_EQ(config->metrics.port, 9090);
}

TEST(ServiceConfigTest, MetricsPortOutOfRangeNamesTheFile) {
  const std::string path = ::testing::TempDir() + "/bad_metrics.yaml";
  std::ofstream(path) << "metrics:\n  port: -1\n";
  EXPECT_EQ(LoadServiceConfig(path).status().message(),
            path +
                ":2: key 'metrics.port': '-1' is out of range; expected an integer in "
                "[0, 65535]");
}

TEST(ServiceConfigTest, MetricsTakesHttpsAndATokenThatNeedsIt) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/metrics-token") << "s3cret\n";
  std::ofstream(dir + "/metrics.pem") << "PEM";
  auto parse = [&](const std::string& yaml) {
    auto root = config::ConfigMap::FromString(yaml, "svc.yaml");
    EXPECT_TRUE(root.ok());
    return ParseServiceConfig(*root);
  };
  const std::string token = "  auth: {token_file: " + dir + "/metrics-token}\n";
  const std::string tls =
      "  tls: {cert_file: " + dir + "/metrics.pem, key_file: " + dir + "/metrics.pem}\n";
  absl::StatusOr<ServiceConfig> plain = parse("metrics:\n" + token);
  EXPECT_THAT(std::string(plain.status().message()),
              ::testing::HasSubstr("key 'metrics.auth.token_file': a bearer token needs TLS"));
  EXPECT_THAT(std::string(plain.status().message()), ::testing::HasSubstr("metrics.tls"));
  absl::StatusOr<ServiceConfig> protected_metrics = parse("metrics:\n" + tls + token);
  ASSERT_TRUE(protected_metrics.ok()) << protected_metrics.status();
  EXPECT_EQ(protected_metrics->metrics.bearer_token, "s3cret");
  EXPECT_EQ(protected_metrics->metrics.tls_cert_file, dir + "/metrics.pem");
  EXPECT_EQ(parse("").value().metrics.address, "127.0.0.1");
  EXPECT_EQ(parse("").value().server.address, "127.0.0.1:0");
}

}  // namespace
}  // namespace plumb::service
