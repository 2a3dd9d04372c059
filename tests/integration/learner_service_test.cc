// plumb-learner as a real process on loopback, facing hostile or careless callers: a Train past
// its deadline is abandoned and the learner keeps serving; client paths stay inside the
// configured roots and over-long names are refused with short messages; weights are published
// only to allow-listed endpoints, one publish at a time, over TLS with a bearer token when the
// target requires them. Each refusal is followed by a good request that succeeds.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/hf_config.h"
#include "plumb/v1/generator.grpc.pb.h"
#include "plumb/v1/learner.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/test_certificates.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class LearnerServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / "learner_service_test");
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    ASSERT_TRUE(testing::MakeTinyModel((*root_ / "policy").string(), "--seed 1").ok());
    absl::StatusOr<testing::TestCertificates> certs =
        testing::MakeTestCertificates(root_->string());
    ASSERT_TRUE(certs.ok()) << certs.status();
    std::ofstream(*root_ / "token") << "publish-secret\n";
    const std::string common = "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n";
    generator_ = Start("plumb-generator", "generator.yaml",
                       common + "generator:\n  model: {path: policy}\n");
    // A generator that wants TLS and a bearer token from whoever loads weights into it.
    secure_generator_ =
        Start("plumb-generator", "secure_generator.yaml",
              absl::StrCat("server:\n  address: \"127.0.0.1:0\"\n  tls: {cert_file: ", certs->dir,
                           "/server.pem, key_file: ", certs->dir,
                           "/server.key}\n  auth: {token_file: ", (*root_ / "token").string(),
                           "}\nmetrics: {enabled: false}\n"
                           "generator:\n  model: {path: policy}\n"));
    // A listening socket that never accepts: connections to it hang.
    blackhole_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    ASSERT_EQ(bind(blackhole_, reinterpret_cast<sockaddr*>(&address), length), 0);
    ASSERT_EQ(listen(blackhole_, 16), 0);
    ASSERT_EQ(getsockname(blackhole_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    blackhole_port_ = ntohs(address.sin_port);
    learner_ = Start("plumb-learner", "learner.yaml",
                     common + "learner: {checkpoint_root: checkpoints, model_roots: [\".\"], " +
                         "publish_targets: [\"" + generator_.endpoint + "\", \"" +
                         BlackholeEndpoint() + "\"]}\n");
    secure_learner_ = Start(
        "plumb-learner", "secure_learner.yaml",
        absl::StrCat(
            common, "learner:\n  model_roots: [\".\"]\n  publish_targets: [\"",
            secure_generator_.endpoint, "\"]\n  publish_client:\n    tls: {ca_file: ", certs->dir,
            "/plumb-test-ca.pem}\n    auth: {token_file: ", (*root_ / "token").string(), "}\n"));
  }
  static testing::RunningService Start(const std::string& binary, const std::string& name,
                                       const std::string& yaml) {
    absl::StatusOr<testing::RunningService> service =
        testing::StartServiceWithYaml(binary, (*root_ / name).string(), yaml);
    EXPECT_TRUE(service.ok()) << service.status();
    return service.ok() ? *std::move(service) : testing::RunningService{};
  }
  static void TearDownTestSuite() {
    for (testing::RunningService* s :
         {&generator_, &secure_generator_, &learner_, &secure_learner_}) {
      s->process.reset();
    }
    close(blackhole_);
    fs::remove_all(*root_);
    delete root_;
  }
  static std::string BlackholeEndpoint() { return absl::StrCat("127.0.0.1:", blackhole_port_); }

  void SetUp() override {
    stub_ = v1::Learner::NewStub(
        grpc::CreateChannel(learner_.endpoint, grpc::InsecureChannelCredentials()));
  }

  static std::pair<grpc::Status, std::string> StartSession(v1::Learner::Stub& stub,
                                                           const v1::TrainingConfig& config,
                                                           const std::string& policy = "policy",
                                                           const std::string& key = "") {
    v1::StartSessionRequest request;
    *request.mutable_config() = config;
    request.set_policy_checkpoint(policy);
    request.set_session_key(key);
    request.set_replace_active(true);
    grpc::ClientContext context;
    v1::StartSessionResponse response;
    const grpc::Status status = stub.StartSession(&context, request, &response);
    return {status, response.session_id()};
  }
  static v1::TrainingConfig Sft() {
    v1::TrainingConfig config;
    config.set_algorithm(v1::ALGORITHM_SFT);
    return config;
  }
  static v1::TrainRequest SftBatch(const std::string& session) {
    v1::TrainRequest request;
    request.set_session_id(session);
    v1::SftExample* example = request.mutable_sft()->add_examples();
    example->set_id("fine");
    for (int id : {72, 105}) example->add_prompt_token_ids(id);
    for (int id : {33, 34, 35}) example->add_completion_token_ids(id);
    return request;
  }
  grpc::Status Train(const v1::TrainRequest& request,
                     std::chrono::milliseconds deadline = std::chrono::seconds(120)) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    v1::TrainResponse response;
    return stub_->Train(&context, request, &response);
  }
  v1::LearnerGetInfoResponse Info() {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::LearnerGetInfoResponse response;
    EXPECT_TRUE(stub_->GetInfo(&context, {}, &response).ok());
    return response;
  }
  static grpc::Status Publish(v1::Learner::Stub& stub, const std::string& session,
                              const std::vector<std::string>& endpoints,
                              v1::PublishWeightsResponse* out = nullptr) {
    v1::PublishWeightsRequest request;
    request.set_session_id(session);
    for (const std::string& e : endpoints) request.add_targets()->set_endpoint(e);
    request.set_allow_downgrade(true);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::PublishWeightsResponse response;
    const grpc::Status status = stub.PublishWeights(&context, request, &response);
    if (out != nullptr) *out = response;
    return status;
  }
  static void ExpectRefused(const grpc::Status& status, grpc::StatusCode code,
                            const std::string& message) {
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(message));
    EXPECT_LT(status.error_message().size(), 1000u) << "unbounded echo";
  }

  static fs::path* root_;
  static inline int blackhole_ = -1, blackhole_port_ = 0;
  static testing::RunningService generator_, secure_generator_, learner_, secure_learner_;
  std::unique_ptr<v1::Learner::Stub> stub_;
};

fs::path* LearnerServiceTest::root_ = nullptr;
testing::RunningService LearnerServiceTest::generator_, LearnerServiceTest::secure_generator_,
    LearnerServiceTest::learner_, LearnerServiceTest::secure_learner_;

// A Train whose caller gives up (deadline) is abandoned at the next step boundary: the learner
// answers GetInfo at once, is READY again, and takes the next call. (Before, a PPO session with
// a huge epoch count wedged the learner: the update ran on, later calls were ABORTED and GetInfo
// timed out.)
TEST_F(LearnerServiceTest, ATrainPastItsDeadlineIsAbandonedAndTheLearnerKeepsServing) {
  v1::TrainingConfig config;
  config.set_algorithm(v1::ALGORITHM_PPO);
  config.mutable_ppo()->set_epochs(100);  // the most allowed
  config.mutable_ppo()->set_minibatch_size(1);
  config.mutable_ppo()->mutable_kl()->set_coef(0);  // no reference log-probs needed
  config.mutable_optimizer()->set_learning_rate(1e-4f);
  const auto [started, session] = StartSession(*stub_, config);
  ASSERT_TRUE(started.ok()) << started.error_message();
  v1::TrainRequest request;  // 64 rollouts x 100 epochs = 6400 optimizer steps: minutes of work
  request.set_session_id(session);
  for (int i = 0; i < 64; ++i) {
    v1::Experience* e = request.mutable_experience()->add_experiences();
    v1::Rollout* r = e->mutable_rollout();
    for (int id : {72, 101, 108 + i % 4}) r->add_prompt_token_ids(id);
    for (int id : {32, 97 + i % 7, 98, 99}) r->add_response_token_ids(id);
    r->set_finish_reason(v1::FINISH_REASON_STOP);
    e->set_reward(static_cast<float>(i % 3));
  }
  ExpectRefused(Train(request, std::chrono::milliseconds(1500)), grpc::DEADLINE_EXCEEDED, "");
  // The update stops at its next step boundary (milliseconds on this model): poll briefly.
  v1::LearnerGetInfoResponse after = Info();
  for (int i = 0; i < 50 && after.session().state() != v1::SESSION_STATE_READY; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = Info();
  }
  EXPECT_EQ(after.session().state(), v1::SESSION_STATE_READY);
  const uint64_t stopped_at = after.session().policy_version();
  EXPECT_GT(stopped_at, 0u);
  EXPECT_LT(stopped_at, 6400u);
  EXPECT_EQ(after.session().train_calls(), 0u);  // the abandoned call does not count
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Info().session().policy_version(), stopped_at) << "the abandoned update went on";
  // The next call is taken (not ABORTED as "another Train call is running") and trains.
  ExpectRefused(Train(request, std::chrono::milliseconds(1500)), grpc::DEADLINE_EXCEEDED, "");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_GT(Info().session().policy_version(), stopped_at);
  // A session with a sane config trains to the end.
  const auto [restarted, sft] = StartSession(*stub_, Sft());
  ASSERT_TRUE(restarted.ok());
  EXPECT_TRUE(Train(SftBatch(sft)).ok());
}

// Paths stay inside the learner's roots, over-long names and keys are refused with short
// messages (a 5,000-byte checkpoint name once escaped as UNKNOWN; unbounded echoes overflowed
// gRPC's metadata limit), and the learner keeps serving good requests after each refusal.
TEST_F(LearnerServiceTest, HostilePathsAndOversizedNamesAreRefused) {
  ExpectRefused(StartSession(*stub_, Sft(), "policy", std::string(200, 'k')).first,
                grpc::INVALID_ARGUMENT, "request.session_key: 200 bytes; at most 128");
  ExpectRefused(StartSession(*stub_, Sft(), "/etc").first, grpc::INVALID_ARGUMENT,
                "learner.model_roots");
  ExpectRefused(StartSession(*stub_, Sft(), "../../..").first, grpc::INVALID_ARGUMENT,
                "learner.model_roots");
  ExpectRefused(StartSession(*stub_, Sft(), std::string(5000, 'p')).first, grpc::INVALID_ARGUMENT,
                "5000 bytes; at most 4096");
  const auto [started, session] = StartSession(*stub_, Sft(), "policy", "paths");
  ASSERT_TRUE(started.ok()) << started.error_message();

  auto save = [&](const std::string& path, bool overwrite, v1::SaveCheckpointResponse* out) {
    v1::SaveCheckpointRequest request;
    request.set_session_id(session);
    request.set_path(path);
    request.set_overwrite(overwrite);
    request.set_weights_only(true);
    grpc::ClientContext context;
    v1::SaveCheckpointResponse response;
    const grpc::Status status = stub_->SaveCheckpoint(&context, request, &response);
    if (out != nullptr) *out = response;
    return status;
  };
  ExpectRefused(save(std::string(5000, 'a'), false, nullptr), grpc::INVALID_ARGUMENT,
                "5000 bytes; at most 4096");
  ExpectRefused(save(std::string(300, 'a'), false, nullptr), grpc::INVALID_ARGUMENT, "at most 255");
  // Overwrite once ran a recursive delete on whatever path the client named.
  const fs::path outside = *root_ / "not_a_checkpoint";
  fs::create_directories(outside);
  std::ofstream(outside / "keep") << "keep\n";
  for (const std::string& path : {outside.string(), std::string("../not_a_checkpoint"),
                                  std::string("/tmp"), std::string("..")}) {
    ExpectRefused(save(path, true, nullptr), grpc::INVALID_ARGUMENT,
                  "is not a folder inside the learner's checkpoint root");
  }
  EXPECT_TRUE(fs::exists(outside / "keep"));
  const fs::path foreign = *root_ / "checkpoints" / "foreign";
  fs::create_directories(foreign);
  std::ofstream(foreign / "keep") << "keep\n";
  ExpectRefused(save("foreign", true, nullptr), grpc::FAILED_PRECONDITION,
                "is not a learner checkpoint");
  EXPECT_TRUE(fs::exists(foreign / "keep"));
  // Good saves and a load, by names relative to the checkpoint root.
  v1::SaveCheckpointResponse saved;
  ASSERT_TRUE(save("run/first", false, &saved).ok());
  EXPECT_EQ(fs::path(saved.path()), fs::weakly_canonical(*root_ / "checkpoints" / "run" / "first"));
  ExpectRefused(save("run/first", false, nullptr), grpc::ALREADY_EXISTS, "exists");
  ASSERT_TRUE(save("run/first", true, nullptr).ok());
  auto load = [&](const std::string& path) {
    v1::LoadCheckpointRequest request;
    request.set_session_id(session);
    request.set_path(path);
    request.set_weights_only(true);
    grpc::ClientContext context;
    v1::LoadCheckpointResponse response;
    return stub_->LoadCheckpoint(&context, request, &response);
  };
  ExpectRefused(load("../policy"), grpc::INVALID_ARGUMENT, "checkpoint root");
  EXPECT_TRUE(load("run/first").ok());

  // Oversized ids are refused by their bounds; ids within them are echoed cut short.
  v1::TrainRequest request = SftBatch(std::string(100000, 's'));
  ExpectRefused(Train(request), grpc::INVALID_ARGUMENT,
                "request.session_id: 100000 bytes; at most 128");
  request.set_session_id(session);
  v1::SftExample* example = request.mutable_sft()->mutable_examples(0);
  example->set_id(std::string(250, 'e'));
  example->set_weight(-1.0f);
  ExpectRefused(Train(request), grpc::INVALID_ARGUMENT, "...(250 bytes): the weight = -1");
  example->set_id(std::string(10000, 'e'));
  ExpectRefused(Train(request), grpc::INVALID_ARGUMENT,
                "request.sft.examples[0].id: 10000 bytes; at most 256");
  EXPECT_TRUE(Train(SftBatch(session)).ok());
}

// PublishWeights once streamed the policy to any endpoint (unix sockets included), and the time
// its failures took told open ports from closed ones.
TEST_F(LearnerServiceTest, WeightsArePublishedOnlyToAllowListedTargets) {
  const auto [started, session] = StartSession(*stub_, Sft());
  ASSERT_TRUE(started.ok());
  for (const std::string& endpoint :
       {std::string("127.0.0.1:1"), std::string("unix:/tmp/plumb.sock"), secure_generator_.endpoint,
        std::string(5000, 'h')}) {
    ExpectRefused(Publish(*stub_, session, {endpoint}), grpc::PERMISSION_DENIED,
                  "is not an allowed publish target; add it to learner.publish_targets");
  }
  // A list with one bad target sends nothing at all.
  ExpectRefused(Publish(*stub_, session, {generator_.endpoint, "10.0.0.1:50052"}),
                grpc::PERMISSION_DENIED, "request.targets[1].endpoint: \"10.0.0.1:50052\"");
  ASSERT_TRUE(Train(SftBatch(session)).ok());
  v1::PublishWeightsResponse published;
  const grpc::Status status = Publish(*stub_, session, {generator_.endpoint}, &published);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(published.results_size(), 1);
  EXPECT_EQ(published.results(0).code(), 0) << published.results(0).error_message();
}

// The publisher used plaintext channels without credentials, so a generator serving TLS with a
// bearer token could not receive weights.
TEST_F(LearnerServiceTest, PublishingReachesATargetThatWantsTlsAndAToken) {
  auto stub = v1::Learner::NewStub(
      grpc::CreateChannel(secure_learner_.endpoint, grpc::InsecureChannelCredentials()));
  const auto [started, session] = StartSession(*stub, Sft());
  ASSERT_TRUE(started.ok()) << started.error_message();
  {
    grpc::ClientContext context;
    v1::TrainResponse trained;
    ASSERT_TRUE(stub->Train(&context, SftBatch(session), &trained).ok());  // version 1
  }
  v1::PublishWeightsResponse published;
  const grpc::Status status = Publish(*stub, session, {secure_generator_.endpoint}, &published);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(published.results_size(), 1);
  EXPECT_EQ(published.results(0).code(), 0) << published.results(0).error_message();
  EXPECT_GT(published.bytes(), 100000u);
}

// Each publish holds a copy of the policy: a second one while the first runs is ABORTED. The
// first goes to an allowed endpoint that accepts connections and never answers, so it runs
// until its health check gives up (10 s).
TEST_F(LearnerServiceTest, OnePublishRunsAtATime) {
  const auto [started, session] = StartSession(*stub_, Sft());
  ASSERT_TRUE(started.ok());
  v1::PublishWeightsResponse slow_response;
  grpc::Status slow_status;
  std::thread slow(
      [&] { slow_status = Publish(*stub_, session, {BlackholeEndpoint()}, &slow_response); });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ExpectRefused(Publish(*stub_, session, {generator_.endpoint}), grpc::ABORTED,
                "another PublishWeights is running");
  slow.join();
  ASSERT_TRUE(slow_status.ok()) << slow_status.error_message();
  EXPECT_EQ(slow_response.failed_targets(), 1);
  EXPECT_TRUE(Publish(*stub_, session, {generator_.endpoint}).ok());  // and the next one runs
}

// The learner's ModelInfo was mostly empty (parameter_count 0, no dtype, device, tokenizer or
// policy version), and the generator counted the value head that plumb-model info leaves out.
// Now every service reports ModelConfig::ParameterCount() of the folder's config.json.
TEST_F(LearnerServiceTest, ModelInfoIsCompleteAndCountsParametersLikeTheOtherServices) {
  const auto [started, session] = StartSession(*stub_, Sft());
  ASSERT_TRUE(started.ok());
  ASSERT_TRUE(Train(SftBatch(session)).ok());
  const v1::ModelInfo info = Info().model();
  absl::StatusOr<model::ModelConfig> config =
      checkpoint::ReadHfConfig(*root_ / "policy" / "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(info.parameter_count(), static_cast<uint64_t>(config->ParameterCount()));
  EXPECT_EQ(info.architecture(), "llama");
  EXPECT_EQ(info.vocab_size(), config->vocab_size);
  EXPECT_EQ(info.dtype(), v1::DTYPE_FLOAT32);
  EXPECT_EQ(info.device(), "cpu");
  EXPECT_EQ(info.policy_version(), 1u);
  EXPECT_EQ(fs::path(info.weights_source()), fs::weakly_canonical(*root_ / "policy"));
  EXPECT_GT(info.weights_loaded_time().seconds(), 0);
  EXPECT_FALSE(info.tokenizer().empty());

  auto generator = v1::Generator::NewStub(
      grpc::CreateChannel(generator_.endpoint, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::GeneratorGetInfoResponse generator_info;
  ASSERT_TRUE(generator->GetInfo(&context, {}, &generator_info).ok());
  EXPECT_EQ(generator_info.model().parameter_count(), info.parameter_count());
  EXPECT_EQ(generator_info.model().tokenizer(), info.tokenizer());
  EXPECT_FALSE(Info().has_critic());

  // A separate critic (here from the policy's own folder) is counted apart.
  v1::TrainingConfig ppo;
  ppo.set_algorithm(v1::ALGORITHM_PPO);
  ppo.mutable_ppo()->set_critic(v1::CRITIC_KIND_SEPARATE);
  ppo.mutable_ppo()->set_critic_learning_rate(1e-4f);
  v1::StartSessionRequest request;
  *request.mutable_config() = ppo;
  request.set_policy_checkpoint("policy");
  request.set_value_checkpoint("policy");
  request.set_replace_active(true);
  grpc::ClientContext start_context;
  v1::StartSessionResponse response;
  const grpc::Status status = stub_->StartSession(&start_context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::LearnerGetInfoResponse with_critic = Info();
  ASSERT_TRUE(with_critic.has_critic());
  EXPECT_EQ(with_critic.critic().parameter_count(), info.parameter_count());
  EXPECT_EQ(fs::path(with_critic.critic().weights_source()),
            fs::weakly_canonical(*root_ / "policy"));
  request.set_value_checkpoint("/etc");
  grpc::ClientContext refused_context;
  ExpectRefused(stub_->StartSession(&refused_context, request, &response), grpc::INVALID_ARGUMENT,
                "value_checkpoint: \"/etc\" is not a folder inside");
}

}  // namespace
}  // namespace plumb
