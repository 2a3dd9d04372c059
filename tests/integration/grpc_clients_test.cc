// The gRPC clients of common/clients against real services on loopback: TLS and a bearer token
// from ChannelOptions, deadlines and cancellation, and the learner calls the round tests do not
// make (checkpoints, status, end of session).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clients/grpc_clients.h"
#include "tests/support/service_process.h"
#include "tests/support/test_certificates.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class GrpcClientsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / "grpc_clients_test");
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    ASSERT_TRUE(testing::MakeTinyModel((*root_ / "policy").string(), "--seed 1").ok());
    absl::StatusOr<testing::TestCertificates> certs =
        testing::MakeTestCertificates(root_->string());
    ASSERT_TRUE(certs.ok()) << certs.status();
    certs_ = new testing::TestCertificates(*certs);
    std::ofstream(*root_ / "token") << "client-secret\n";
    // A generator behind TLS and a bearer token.
    generator_ =
        Start("plumb-generator", "generator.yaml",
              absl::StrCat("server:\n  address: \"127.0.0.1:0\"\n  tls: {cert_file: ", certs->dir,
                           "/server.pem, key_file: ", certs->dir,
                           "/server.key}\n  auth: {token_file: ", (*root_ / "token").string(),
                           "}\nmetrics: {enabled: false}\n"
                           "generator:\n  model: {path: policy}\n"));
    learner_ = Start("plumb-learner", "learner.yaml",
                     "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n"
                     "learner: {checkpoint_root: checkpoints, model_roots: [\".\"]}\n");
  }
  static testing::RunningService* Start(const std::string& binary, const std::string& name,
                                        const std::string& yaml) {
    absl::StatusOr<testing::RunningService> service =
        testing::StartServiceWithYaml(binary, (*root_ / name).string(), yaml);
    EXPECT_TRUE(service.ok()) << service.status();
    return new testing::RunningService(*std::move(service));
  }
  static void TearDownTestSuite() {
    delete generator_;
    delete learner_;
    delete certs_;
    fs::remove_all(*root_);
    delete root_;
  }

  static rpc::ChannelOptions SecureOptions(bool with_token) {
    rpc::ChannelOptions options{.target = generator_->endpoint};
    options.tls = rpc::ClientTlsOptions{.root_ca_pem = certs_->ca_pem};
    if (with_token) options.bearer_token = "client-secret";
    return options;
  }

  static generator::GenerateJob Job(int new_tokens, int samples) {
    generator::GenerateJob job;
    job.request_id = "clients";
    job.prompts = {{.id = "a", .text = "Hello there"}, {.id = "b", .token_ids = {256, 72, 105}}};
    job.sampling.num_samples = samples;
    job.sampling.seed = 3;
    job.sampling.max_new_tokens = new_tokens;
    job.sampling.ignore_eos = true;
    job.sampling.return_logprobs = true;
    return job;
  }

  static fs::path* root_;
  static testing::TestCertificates* certs_;
  static testing::RunningService* generator_;
  static testing::RunningService* learner_;
};

fs::path* GrpcClientsTest::root_ = nullptr;
testing::TestCertificates* GrpcClientsTest::certs_ = nullptr;
testing::RunningService* GrpcClientsTest::generator_ = nullptr;
testing::RunningService* GrpcClientsTest::learner_ = nullptr;

TEST_F(GrpcClientsTest, TheGeneratorClientSpeaksTlsWithItsTokenAndIsRefusedWithout) {
  std::unique_ptr<clients::GeneratorClient> client =
      *clients::NewGrpcGeneratorClient(SecureOptions(/*with_token=*/true));
  absl::StatusOr<std::vector<generator::RolloutResult>> rollouts =
      client->GenerateAll(Job(4, 2), {.timeout = absl::Seconds(60)});
  ASSERT_TRUE(rollouts.ok()) << rollouts.status();
  ASSERT_EQ(rollouts->size(), 4u);
  EXPECT_EQ((*rollouts)[0].prompt_id, "a");
  EXPECT_EQ((*rollouts)[3].prompt_id, "b");
  EXPECT_EQ((*rollouts)[3].sample_index, 1);
  EXPECT_EQ((*rollouts)[3].prompt_ids, (std::vector<int64_t>{256, 72, 105}));
  for (const generator::RolloutResult& r : *rollouts) {
    EXPECT_EQ(r.response_ids.size(), 4u);
    EXPECT_EQ(r.logprobs.size(), 4u);
    EXPECT_EQ(r.finish, generator::Finish::kLength);
  }
  absl::StatusOr<clients::GeneratorStatus> status = client->GetStatus({});
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->policy_version, 0u);
  EXPECT_GT(status->max_sequences_per_request, 0);

  std::unique_ptr<clients::GeneratorClient> tokenless =
      *clients::NewGrpcGeneratorClient(SecureOptions(/*with_token=*/false));
  EXPECT_EQ(tokenless->GenerateAll(Job(4, 1), {}).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(GrpcClientsTest, CallsEndAtTheirDeadlineOrWhenCancelled) {
  std::unique_ptr<clients::GeneratorClient> client =
      *clients::NewGrpcGeneratorClient(SecureOptions(true));
  EXPECT_EQ(client->GenerateAll(Job(200, 16), {.timeout = absl::Milliseconds(5)}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  auto cancellation = std::make_shared<clients::Cancellation>();
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(50));
    cancellation->Cancel();
  });
  const absl::Time start = absl::Now();
  const absl::Status cancelled =
      client
          ->GenerateAll(Job(200, 16), {.timeout = absl::Seconds(60), .cancellation = cancellation})
          .status();
  canceller.join();
  EXPECT_EQ(cancelled.code(), absl::StatusCode::kCancelled) << cancelled;
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  // A call with a cancellation already fired never starts; the channel still serves.
  EXPECT_EQ(client->GetStatus({.cancellation = cancellation}).status().code(),
            absl::StatusCode::kCancelled);
  EXPECT_TRUE(client->GetStatus({}).ok());
}

TEST_F(GrpcClientsTest, TheLearnerClientSavesLoadsReportsAndEndsSessions) {
  std::unique_ptr<clients::LearnerClient> client =
      *clients::NewGrpcLearnerClient({.target = learner_->endpoint});
  learner::SessionOptions options = learner::SessionOptions::Defaults(learner::Algorithm::kSft);
  options.optimizer.lr = 0.01;
  options.policy_path = (*root_ / "policy").string();
  absl::StatusOr<learner::SessionStatus> session =
      client->StartSession({.options = options, .replace_active = true}, {});
  ASSERT_TRUE(session.ok()) << session.status();
  const std::vector<learner::SftExample> batch = {
      {.id = "x", .prompt = {256, 72}, .completion = {105, 33, 257}}};
  const clients::TrainCall train{.session_id = session->id, .batch = batch};
  ASSERT_EQ(client->Train(train, {})->policy_version, 1u);
  absl::StatusOr<learner::CheckpointInfo> saved =
      client->SaveCheckpoint(session->id, "one", false, false, {});
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->version, 1u);
  EXPECT_THAT(saved->path, HasSubstr("checkpoints"));
  ASSERT_EQ(client->Train(train, {})->policy_version, 2u);
  absl::StatusOr<learner::CheckpointInfo> loaded =
      client->LoadCheckpoint(session->id, "one", false, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version, 1u);
  absl::StatusOr<clients::LearnerStatus> status = client->GetStatus({});
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(status->session.has_value());
  EXPECT_EQ(status->session->id, session->id);
  EXPECT_EQ(status->session->policy_version, 1u);
  EXPECT_EQ(status->world_size, 1);
  // The learner's own refusals come back as they are.
  const absl::Status unknown = client->Train({.session_id = "s-nope", .batch = batch}, {}).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  const absl::Status escape =
      client->SaveCheckpoint(session->id, "../out", false, false, {}).status();
  EXPECT_EQ(escape.code(), absl::StatusCode::kInvalidArgument) << escape;
  EXPECT_EQ(*client->EndSession(session->id, {}), 1u);
}

}  // namespace
}  // namespace plumb
