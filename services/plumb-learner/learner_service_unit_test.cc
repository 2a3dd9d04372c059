// LearnerService's handlers called directly, without sockets, around a real LearnerCore on a
// tiny model: what the adapter itself decides (request checks, sequence memory, the allow-list of
// publish targets, the answers' conversion), and TrainCallLedger on its own.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "common/metrics/registry.h"
#include "services/plumb-learner/learner_core_test_support.h"
#include "services/plumb-learner/learner_service.h"
#include "services/plumb-learner/train_call_ledger.h"

namespace plumb::learner {
namespace {

using ::testing::HasSubstr;

class LearnerAdapterTest : public LearnerCoreTest {
 protected:
  LearnerAdapterTest()
      : core_(TestStorage()),
        created_(
            LearnerService::Create(&core_, &registry_, PublishOptions{.targets = {"127.0.0.1:1"}})),
        service_(*created_.value()) {}

  std::string StartSft() {
    v1::StartSessionRequest request;
    request.mutable_config()->set_algorithm(v1::ALGORITHM_SFT);
    request.mutable_config()->mutable_optimizer()->set_learning_rate(0.01f);
    request.set_policy_checkpoint(dir_->string());
    grpc::ServerContext context;
    v1::StartSessionResponse response;
    const grpc::Status status = service_.StartSession(&context, &request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.session_id();
  }

  grpc::Status Train(const std::string& session, uint64_t sequence, v1::TrainResponse* response) {
    v1::TrainRequest request;
    request.set_session_id(session);
    request.set_sequence(sequence);
    v1::SftExample* e = request.mutable_sft()->add_examples();
    e->mutable_prompt_token_ids()->Add(kPromptA.begin(), kPromptA.end());
    e->mutable_completion_token_ids()->Add(kGood.begin(), kGood.end());
    grpc::ServerContext context;
    return service_.Train(&context, &request, response);
  }

  metrics::Registry registry_;
  LearnerCore core_;
  absl::StatusOr<std::unique_ptr<LearnerService>> created_;
  LearnerService& service_;
};

TEST_F(LearnerAdapterTest, ABadConfigIsRefusedNamingTheFieldAndNoSessionStarts) {
  v1::StartSessionRequest request;
  request.mutable_config()->set_algorithm(v1::ALGORITHM_PPO);
  request.mutable_config()->mutable_ppo()->set_epochs(1000);
  request.set_policy_checkpoint(dir_->string());
  grpc::ServerContext context;
  v1::StartSessionResponse response;
  const grpc::Status status = service_.StartSession(&context, &request, &response);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("config.ppo.epochs"));
  EXPECT_FALSE(core_.Status().has_value());
}

TEST_F(LearnerAdapterTest, ARetriedSequenceIsAnsweredFromMemoryAndAGapIsRefused) {
  const std::string session = StartSft();
  v1::TrainResponse first, retry, gap, second;
  ASSERT_TRUE(Train(session, 1, &first).ok());
  EXPECT_EQ(first.stats().policy_version(), 1u);
  EXPECT_EQ(first.stats().sequence(), 1u);
  ASSERT_TRUE(Train(session, 1, &retry).ok());
  EXPECT_EQ(retry.stats().policy_version(), 1u);
  EXPECT_EQ(retry.stats().losses().at("sft"), first.stats().losses().at("sft"));
  EXPECT_EQ(core_.Status()->train_calls, 1u);  // not trained again
  const grpc::Status skipped = Train(session, 3, &gap);
  EXPECT_EQ(skipped.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(skipped.error_message(), HasSubstr("sequence 3 does not follow 1"));
  ASSERT_TRUE(Train(session, 2, &second).ok());
  EXPECT_EQ(second.stats().policy_version(), 2u);
  grpc::ServerContext context;
  v1::LearnerGetInfoResponse info;
  v1::LearnerGetInfoRequest get;
  ASSERT_TRUE(service_.GetInfo(&context, &get, &info).ok());
  EXPECT_EQ(info.session().last_sequence(), 2u);
  EXPECT_EQ(info.session().state(), v1::SESSION_STATE_READY);
}

TEST_F(LearnerAdapterTest, WeightsGoOnlyToAllowedTargetsListedOnce) {
  const std::string session = StartSft();
  auto publish = [&](const std::vector<std::string>& endpoints) {
    v1::PublishWeightsRequest request;
    request.set_session_id(session);
    for (const std::string& e : endpoints) request.add_targets()->set_endpoint(e);
    grpc::ServerContext context;
    v1::PublishWeightsResponse response;
    return service_.PublishWeights(&context, &request, &response);
  };
  const grpc::Status elsewhere = publish({"10.0.0.9:50051"});
  EXPECT_EQ(elsewhere.error_code(), grpc::PERMISSION_DENIED);
  EXPECT_THAT(elsewhere.error_message(), HasSubstr("request.targets[0].endpoint"));
  EXPECT_THAT(elsewhere.error_message(), HasSubstr("learner.publish_targets"));
  const grpc::Status twice = publish({"127.0.0.1:1", "127.0.0.1:1"});
  EXPECT_EQ(twice.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(twice.error_message(), HasSubstr("listed twice"));
  EXPECT_EQ(publish({}).error_code(), grpc::INVALID_ARGUMENT);
}

TEST_F(LearnerAdapterTest, AMetricTheRegistryRefusesIsAnErrorAtStartUpNotACrash) {
  metrics::Registry taken;
  // The name the service wants, already registered with other labels.
  ASSERT_TRUE(taken.AddCounter("plumb_learner_requests_total", "x", {"other"}).ok());
  absl::StatusOr<std::unique_ptr<LearnerService>> service =
      LearnerService::Create(&core_, &taken, PublishOptions{});
  EXPECT_FALSE(service.ok());
  EXPECT_THAT(service.status().message(), HasSubstr("plumb_learner_requests_total"));
}

TEST(TrainCallLedgerTest, OneTrainAtATimeAndALostRankFailsTheSessionUntilRecovered) {
  TrainCallLedger ledger(/*world_size=*/2);
  ASSERT_TRUE(ledger.BeginTrain(0).ok());
  EXPECT_TRUE(ledger.training());
  EXPECT_EQ(ledger.BeginTrain(0).status().code(), absl::StatusCode::kAborted);
  ledger.EndTrain(0, absl::UnavailableError("rank 1 is gone"));
  EXPECT_FALSE(ledger.training());
  EXPECT_EQ(ledger.failure(), "rank 1 is gone");
  const absl::Status failed = ledger.BeginTrain(0).status();
  EXPECT_EQ(failed.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(failed.message(), HasSubstr("the session FAILED: rank 1 is gone"));
  ledger.Recovered();
  EXPECT_TRUE(ledger.CheckNotFailed().ok());
  // One process: UNAVAILABLE is just an answer.
  TrainCallLedger single(/*world_size=*/1);
  single.NoteResult(absl::UnavailableError("x"));
  EXPECT_TRUE(single.CheckNotFailed().ok());
}

}  // namespace
}  // namespace plumb::learner
