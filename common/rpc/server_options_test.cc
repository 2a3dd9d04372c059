#include "common/rpc/server_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "common/rpc/channel_factory.h"

namespace plumb::rpc {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

absl::Status ParseServer(const std::string& yaml, ServerOptions* options) {
  auto map = config::ConfigMap::FromString(yaml, "svc.yaml");
  if (!map.ok()) return map.status();
  return ParseServerOptions(*map, options);
}

// The error message of parsing `yaml` into default options.
std::string ServerError(const std::string& yaml) {
  ServerOptions options;
  return std::string(ParseServer(yaml, &options).message());
}

TEST(ServerOptionsTest, ReadsEveryKeyIncludingTlsAndTokenFiles) {
  const std::string cert = WriteTemp("cert.pem", "CERT");
  const std::string key = WriteTemp("key.pem", "KEY");
  const std::string ca = WriteTemp("ca.pem", "CA");
  const std::string token = WriteTemp("token", "  s3cret\n");
  ServerOptions options;
  absl::Status status = ParseServer(
      "address: 127.0.0.1:9000\nmax_receive_message_bytes: 8388608\nmax_send_message_bytes: 2048\n"
      "keepalive_time: 20s\nkeepalive_timeout: 5s\nshutdown_grace: 3s\nreflection: false\n"
      "tls:\n  cert_file: " +
          cert + "\n  key_file: " + key + "\n  client_ca_file: " + ca +
          "\nauth:\n  token_file: " + token + "\n",
      &options);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(options.address, "127.0.0.1:9000");
  EXPECT_EQ(options.max_receive_message_bytes, 8 << 20);
  EXPECT_EQ(options.max_send_message_bytes, 2048);
  EXPECT_EQ(options.keepalive_time, absl::Seconds(20));
  EXPECT_EQ(options.keepalive_timeout, absl::Seconds(5));
  EXPECT_EQ(options.shutdown_grace, absl::Seconds(3));
  EXPECT_FALSE(options.reflection);
  ASSERT_TRUE(options.tls.has_value());
  EXPECT_EQ(options.tls->cert_pem, "CERT");
  EXPECT_EQ(options.tls->key_pem, "KEY");
  EXPECT_EQ(options.tls->client_ca_pem, "CA");
  EXPECT_EQ(options.bearer_token, "s3cret");
}

TEST(ServerOptionsTest, ErrorsNameTheKeyAndTheFix) {
  EXPECT_EQ(ServerError("address: localhost\n"),
            "svc.yaml:1: key 'address': 'localhost' has no port; write host:port, e.g. "
            "127.0.0.1:50051 (port 0 picks a free port)");
  EXPECT_EQ(ServerError("tls:\n  cert_file: /nonexistent.pem\n"),
            "svc.yaml:2: key 'tls.cert_file': cannot read file '/nonexistent.pem'");
  const std::string cert = WriteTemp("only_cert.pem", "CERT");
  EXPECT_THAT(ServerError("tls:\n  cert_file: " + cert + "\n"),
              HasSubstr("key 'tls.key_file': TLS needs both cert_file and key_file"));
  EXPECT_THAT(ServerError("max_receive_message_bytes: 10\n"),
              HasSubstr("'10' is out of range; expected an integer in [1024, 1073741824]"));
  EXPECT_THAT(ServerError("shutdown_grce: 1s\n"),
              HasSubstr("key 'shutdown_grce': unknown key; did you mean 'shutdown_grace'?"));
  const std::string token = WriteTemp("plain_token", "abc\n");
  EXPECT_THAT(ServerError("auth:\n  token_file: " + token + "\n"),
              HasSubstr("key 'auth.token_file': a bearer token needs TLS"));
  const std::string empty = WriteTemp("empty_token", "\n");
  EXPECT_THAT(ServerError("auth:\n  token_file: " + empty + "\n"),
              HasSubstr("key 'auth.token_file': the token file is empty"));
}

TEST(ChannelOptionsTest, ReadsRetryAndDeadlineAndRefusesHalfAClientCertificate) {
  auto map = config::ConfigMap::FromString(
      "target: gen-0:50051\ndeadline: 2s\nretry:\n  max_attempts: 3\n  initial_backoff: 50ms\n"
      "  max_backoff: 1s\n  backoff_multiplier: 1.5\n",
      "client.yaml");
  ASSERT_TRUE(map.ok());
  ChannelOptions options;
  ASSERT_TRUE(ParseChannelOptions(*map, &options).ok());
  EXPECT_EQ(options.target, "gen-0:50051");
  EXPECT_EQ(options.default_deadline, absl::Seconds(2));
  EXPECT_EQ(options.retry.max_attempts, 3);
  EXPECT_EQ(RetryServiceConfigJson(options.retry),
            R"({"methodConfig":[{"name":[{}],"retryPolicy":{"maxAttempts":3,)"
            R"("initialBackoff":"0.050s","maxBackoff":"1.000s","backoffMultiplier":1.5,)"
            R"("retryableStatusCodes":["UNAVAILABLE"]}}]})");

  auto too_many = config::ConfigMap::FromString("retry:\n  max_attempts: 9\n", "client.yaml");
  ASSERT_TRUE(too_many.ok());
  EXPECT_THAT(std::string(ParseChannelOptions(*too_many, &options).message()),
              HasSubstr("key 'retry.max_attempts': '9' is out of range; expected an integer in "
                        "[1, 5]"));

  const std::string cert = WriteTemp("client_cert.pem", "CERT");
  auto half = config::ConfigMap::FromString("tls:\n  cert_file: " + cert + "\n", "client.yaml");
  ASSERT_TRUE(half.ok());
  EXPECT_THAT(std::string(ParseChannelOptions(*half, &options).message()),
              HasSubstr("key 'tls.key_file': a client certificate needs both cert_file and "
                        "key_file"));
  EXPECT_EQ(CreateChannel(ChannelOptions{}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace plumb::rpc
