// plumb-learner as two data-parallel ranks (two real processes joined over Gloo on loopback,
// rank 0 serving gRPC) against one plumb-learner process: the same Train calls give the same
// losses and gradient norms for PPO, GRPO, DPO and KTO; the ranks shut down together on a drain;
// a lost rank turns into an error answer while rank 0 keeps serving.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "plumb/v1/learner.grpc.pb.h"
#include "tests/support/free_port.h"
#include "tests/support/service_process.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void AddIds(google::protobuf::RepeatedField<int32_t>* out, std::initializer_list<int32_t> ids) {
  for (int32_t id : ids) out->Add(id);
}

v1::TrainRequest ExperienceBatch(const std::string& session) {
  v1::TrainRequest request;
  request.set_session_id(session);
  for (int p = 0; p < 2; ++p) {
    for (int k = 0; k < 3; ++k) {
      v1::Experience* e = request.mutable_experience()->add_experiences();
      v1::Rollout* r = e->mutable_rollout();
      r->set_request_id("r");
      r->set_prompt_id(absl::StrCat(p));
      AddIds(r->mutable_prompt_token_ids(), {1, 40 + p, 41, 42});
      if (k == 0) {
        AddIds(r->mutable_response_token_ids(), {60, 61, 62});
      } else {
        AddIds(r->mutable_response_token_ids(), {70 + k, 71, 72, 73, 74});
      }
      r->set_finish_reason(v1::FINISH_REASON_STOP);
      e->set_reward(k == 0 ? 1.0f : -0.5f * k);
      for (int t = 0; t < r->response_token_ids_size(); ++t) e->add_reference_logprobs(-5.0f);
    }
  }
  return request;
}

v1::TrainRequest PreferenceBatch(const std::string& session) {
  v1::TrainRequest request;
  request.set_session_id(session);
  for (int p = 0; p < 3; ++p) {
    v1::PreferencePair* pair = request.mutable_preference()->add_pairs();
    pair->set_id(absl::StrCat(p));
    AddIds(pair->mutable_prompt_token_ids(), {1, 50 + p, 51});
    AddIds(pair->mutable_chosen_token_ids(), {60, 61, 62});
    AddIds(pair->mutable_rejected_token_ids(), {80, 81});
    pair->set_reference_chosen_logprob(-16.5);
    pair->set_reference_rejected_logprob(-11.0);
  }
  return request;
}

v1::TrainRequest UnpairedBatch(const std::string& session) {
  v1::TrainRequest request;
  request.set_session_id(session);
  for (int i = 0; i < 4; ++i) {
    v1::UnpairedExample* e = request.mutable_unpaired()->add_examples();
    e->set_id(absl::StrCat(i));
    AddIds(e->mutable_prompt_token_ids(), {1, 30 + i});
    if (i % 2 == 0) {
      AddIds(e->mutable_completion_token_ids(), {60, 61, 62});
    } else {
      AddIds(e->mutable_completion_token_ids(), {80, 81});
    }
    e->set_desirable(i % 2 == 0);
    e->set_reference_logprob(i % 2 == 0 ? -16.5 : -11.0);
    e->set_reference_kl_logprob(-14.0);
  }
  return request;
}

class LearnerDistributedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / "learner_distributed_test";
    ASSERT_TRUE(testing::MakeEmptyFolder(root_.string()).ok());
    ASSERT_TRUE(testing::MakeTinyModel((root_ / "policy").string(), "--seed 4").ok());
    const fs::path config = root_ / "learner.yaml";
    std::ofstream(config) << "server: {address: \"127.0.0.1:0\"}\nmetrics: {enabled: false}\n"
                             "learner: {distributed_timeout_seconds: 20, checkpoint_root: "
                             "checkpoints, model_roots: [\".\"]}\n";
    const int port = testing::FreeLoopbackPort();
    auto env = [&](int rank) {
      return std::vector<std::string>{absl::StrCat("RANK=", rank), "WORLD_SIZE=2",
                                      "MASTER_ADDR=127.0.0.1", absl::StrCat("MASTER_PORT=", port)};
    };
    // Rank 1 never prints a ready line (it serves nothing): start it bare, then rank 0.
    std::vector<std::string> argv = {"/usr/bin/env"};
    for (const std::string& e : env(1)) argv.push_back(e);
    argv.insert(argv.end(), {testing::BinaryPath("plumb-learner"), "--config", config.string()});
    absl::StatusOr<testing::Subprocess> follower = testing::Subprocess::Start(argv);
    ASSERT_TRUE(follower.ok()) << follower.status();
    follower_ = std::make_unique<testing::Subprocess>(*std::move(follower));
    absl::StatusOr<testing::RunningService> ranks =
        testing::StartService("plumb-learner", config.string(), absl::Seconds(60), env(0));
    ASSERT_TRUE(ranks.ok()) << ranks.status();
    ranks_ = std::move(*ranks);
    absl::StatusOr<testing::RunningService> single =
        testing::StartService("plumb-learner", config.string());
    ASSERT_TRUE(single.ok()) << single.status();
    single_ = std::move(*single);
    distributed_stub_ = v1::Learner::NewStub(
        grpc::CreateChannel(ranks_.endpoint, grpc::InsecureChannelCredentials()));
    single_stub_ = v1::Learner::NewStub(
        grpc::CreateChannel(single_.endpoint, grpc::InsecureChannelCredentials()));
  }

  std::string Start(v1::Learner::Stub& stub, v1::Algorithm algorithm) {
    v1::StartSessionRequest request;
    request.mutable_config()->set_algorithm(algorithm);
    request.mutable_config()->set_seed(9);
    request.mutable_config()->mutable_optimizer()->set_learning_rate(1e-2f);
    if (algorithm == v1::ALGORITHM_PPO) {
      request.mutable_config()->mutable_ppo()->set_epochs(2);
      request.mutable_config()->mutable_ppo()->set_minibatch_size(3);
    }
    request.set_policy_checkpoint((root_ / "policy").string());
    request.set_replace_active(true);
    v1::StartSessionResponse response;
    grpc::ClientContext context;
    const grpc::Status status = stub.StartSession(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.session_id();
  }

  static v1::TrainStats Train(v1::Learner::Stub& stub, v1::TrainRequest request) {
    v1::TrainResponse response;
    grpc::ClientContext context;
    const grpc::Status status = stub.Train(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.stats();
  }

  fs::path root_;
  std::unique_ptr<testing::Subprocess> follower_;
  testing::RunningService ranks_, single_;
  std::unique_ptr<v1::Learner::Stub> distributed_stub_, single_stub_;
};

TEST_F(LearnerDistributedTest, TwoRanksTrainExactlyLikeOneProcessAndStopTogether) {
  v1::LearnerGetInfoResponse info;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(distributed_stub_->GetInfo(&context, {}, &info).ok());
  }
  EXPECT_EQ(info.world_size(), 2);
  EXPECT_EQ(info.distributed_backend(), "gloo");

  struct Case {
    v1::Algorithm algorithm;
    v1::TrainRequest (*batch)(const std::string&);
  };
  for (const Case& c :
       {Case{v1::ALGORITHM_PPO, ExperienceBatch}, Case{v1::ALGORITHM_GRPO, ExperienceBatch},
        Case{v1::ALGORITHM_DPO, PreferenceBatch}, Case{v1::ALGORITHM_KTO, UnpairedBatch}}) {
    SCOPED_TRACE(v1::Algorithm_Name(c.algorithm));
    const std::string a = Start(*single_stub_, c.algorithm);
    const std::string b = Start(*distributed_stub_, c.algorithm);
    for (int call = 0; call < 2; ++call) {
      const v1::TrainStats want = Train(*single_stub_, c.batch(a));
      const v1::TrainStats got = Train(*distributed_stub_, c.batch(b));
      EXPECT_EQ(got.policy_version(), want.policy_version());
      EXPECT_EQ(got.tokens(), want.tokens());
      EXPECT_NEAR(got.losses().at("total"), want.losses().at("total"),
                  1e-5 * (1 + std::abs(want.losses().at("total"))));
      // After the first call this also compares the weights the first step produced.
      EXPECT_NEAR(got.grad_norm(), want.grad_norm(), 1e-4 * (1 + want.grad_norm()));
      EXPECT_GT(want.grad_norm(), 0);
    }
  }

  // A drain of rank 0 tells rank 1 to exit.
  ranks_.process->Signal(SIGTERM);
  absl::StatusOr<int> rank0 = ranks_.process->Wait(absl::Seconds(30));
  ASSERT_TRUE(rank0.ok());
  EXPECT_EQ(*rank0, 0);
  absl::StatusOr<int> rank1 = follower_->Wait(absl::Seconds(30));
  ASSERT_TRUE(rank1.ok()) << rank1.status();
  EXPECT_EQ(*rank1, 0);
}

TEST_F(LearnerDistributedTest, ALostRankIsAnErrorAnswerAndRankZeroKeepsServing) {
  const std::string session = Start(*distributed_stub_, v1::ALGORITHM_DPO);
  Train(*distributed_stub_, PreferenceBatch(session));
  follower_->Signal(SIGKILL);
  ASSERT_TRUE(follower_->Wait(absl::Seconds(10)).ok());
  v1::TrainResponse response;
  grpc::ClientContext context;
  const grpc::Status status =
      distributed_stub_->Train(&context, PreferenceBatch(session), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("a data-parallel rank is lost"));
  // The session is FAILED: GetInfo says why, Train is refused, a checkpoint can still be saved.
  v1::LearnerGetInfoResponse info;
  grpc::ClientContext info_context;
  ASSERT_TRUE(distributed_stub_->GetInfo(&info_context, {}, &info).ok());
  EXPECT_EQ(info.session().state(), v1::SESSION_STATE_FAILED);
  EXPECT_THAT(info.session().error(), HasSubstr("a data-parallel rank is lost"));
  grpc::ClientContext again;
  const grpc::Status refused =
      distributed_stub_->Train(&again, PreferenceBatch(session), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("the session FAILED"));
  v1::SaveCheckpointRequest save;
  save.set_session_id(session);
  save.set_path("rescue");  // under the checkpoint root
  v1::SaveCheckpointResponse saved;
  grpc::ClientContext save_context;
  const grpc::Status saved_status = distributed_stub_->SaveCheckpoint(&save_context, save, &saved);
  EXPECT_TRUE(saved_status.ok()) << saved_status.error_message();
  EXPECT_EQ(saved.policy_version(), 1u);  // the step that completed before the rank was lost
}

}  // namespace
}  // namespace plumb
