// PPO with a separate critic (CRITIC_KIND_SEPARATE), initialised from a reward model: the policy
// learns by the same criterion as with a value head, the critic's weights move and the policy's
// value head does not; two data-parallel ranks end where one process does; a checkpoint brings
// back the critic and its optimizer exactly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/sharded_checkpoint.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_core_test_support.h"

namespace plumb::learner {
namespace {

using ::testing::HasSubstr;

class CriticTest : public LearnerCoreTest {
 protected:
  // A reward model of the policy's shape (its own weights and a one-output score head), and a
  // model of another vocabulary.
  static void SetUpTestSuite() {
    LearnerCoreTest::SetUpTestSuite();
    absl::StatusOr<model::ModelConfig> config = checkpoint::ReadHfConfig(*dir_ / "config.json");
    ASSERT_TRUE(config.ok()) << config.status();
    torch::manual_seed(7);
    model::ModelConfig rm = *config;
    rm.num_reward_outputs = 1;
    ASSERT_TRUE(model::SaveHfModel(*model::Transformer(rm), *dir_ / "rm").ok());
    model::ModelConfig other = *config;
    other.vocab_size = 32;
    ASSERT_TRUE(model::SaveHfModel(*model::Transformer(other), *dir_ / "other_vocab").ok());
  }

  static SessionOptions CriticOptions() {
    SessionOptions o = Options(Algorithm::kPpo);
    o.ppo.epochs = 2;
    o.ppo.separate_critic = true;
    o.ppo.critic_learning_rate = 5e-3;
    o.value_path = (*dir_ / "rm").string();
    return o;
  }

  // The critic's tensors as a weights-only checkpoint holds them.
  static checkpoint::TensorMap CriticOf(LearnerCore& core, const std::string& name) {
    absl::StatusOr<CheckpointInfo> saved = core.SaveCheckpoint("session", name, true, true);
    EXPECT_TRUE(saved.ok()) << saved.status();
    absl::StatusOr<checkpoint::TensorMap> tensors =
        checkpoint::ReadSafetensorsCheckpoint(fs::path(saved->path) / "critic");
    EXPECT_TRUE(tensors.ok()) << tensors.status();
    return tensors.ok() ? *std::move(tensors) : checkpoint::TensorMap{};
  }
  static double MaxDifference(const checkpoint::TensorMap& a, const checkpoint::TensorMap& b) {
    double worst = 0;
    for (const auto& [name, t] : a) {
      worst = std::max(
          worst, (t.to(torch::kFloat) - b.at(name).to(torch::kFloat)).abs().max().item<double>());
    }
    return worst;
  }
  using LearnerCoreTest::MaxDifference;
};

TEST_F(CriticTest, PpoWithASeparateCriticLearnsAndLeavesThePolicysValueHeadAlone) {
  LearnerCore core(TestStorage());
  Start(core, CriticOptions());
  ASSERT_TRUE(core.Model()->critic.has_value());
  EXPECT_EQ(core.Model()->critic->num_reward_outputs, 1);
  // The critic's value head starts as the reward model's score head.
  const checkpoint::TensorMap start = CriticOf(core, "critic_start");
  absl::StatusOr<checkpoint::TensorMap> rm = checkpoint::ReadSafetensorsCheckpoint(*dir_ / "rm");
  ASSERT_TRUE(rm.ok());
  EXPECT_TRUE(start.at("value_head.weight").equal(rm->at("score.weight")));
  const at::Tensor policy_value_head =
      core.Weights("session", torch::kFloat)->tensors.at("value_head.weight").clone();

  const double before = GoodOverBad(core);
  const TrainStats stats = Train(core, Algorithm::kPpo, 4);
  EXPECT_GT(GoodOverBad(core) - before, 1.0);
  EXPECT_EQ(stats.policy_version, 8u);
  EXPECT_TRUE(stats.losses.count("value"));
  EXPECT_GT(stats.metrics.at("critic/grad_norm"), 0.0);
  EXPECT_EQ(stats.metrics.at("critic/learning_rate"), 5e-3);
  EXPECT_GT(MaxDifference(CriticOf(core, "critic_end"), start), 1e-4) << "the critic did not learn";
  EXPECT_TRUE(core.Weights("session", torch::kFloat)
                  ->tensors.at("value_head.weight")
                  .equal(policy_value_head))
      << "the policy's value head was trained";
}

TEST_F(CriticTest, TwoDataParallelRanksTrainTheCriticLikeOneProcess) {
  SessionOptions o = CriticOptions();
  o.ppo.minibatch_size = 4;
  LearnerCore single(TestStorage());
  Start(single, o);
  const TrainStats expected = Train(single, Algorithm::kPpo, 2);
  const checkpoint::TensorMap want = CriticOf(single, "dp_single");
  std::vector<TrainStats> got(2);
  std::vector<checkpoint::TensorMap> critics(2);
  std::vector<double> policy_difference(2, 1.0);
  OnTwoRanks([&](LearnerCore& core, int rank) {
    SessionOptions ro = o;
    ro.micro_batch_size = 1;
    Start(core, ro);
    got[rank] = Train(core, Algorithm::kPpo, 2);
    critics[rank] = CriticOf(core, absl::StrCat("dp_rank", rank));
  });
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE(rank);
    EXPECT_EQ(got[rank].policy_version, expected.policy_version);
    EXPECT_NEAR(got[rank].losses.at("value"), expected.losses.at("value"),
                1e-5 * (1 + std::abs(expected.losses.at("value"))));
    EXPECT_NEAR(got[rank].metrics.at("critic/grad_norm"), expected.metrics.at("critic/grad_norm"),
                1e-4 * (1 + expected.metrics.at("critic/grad_norm")));
    EXPECT_LT(MaxDifference(critics[rank], want), 1e-4);
  }
  EXPECT_EQ(MaxDifference(critics[0], critics[1]), 0.0) << "the ranks' critics drifted apart";
}

TEST_F(CriticTest, ACheckpointBringsBackTheCriticAndItsOptimizerExactly) {
  LearnerCore first(TestStorage());
  Start(first, CriticOptions());
  Train(first, Algorithm::kPpo, 1);
  ASSERT_TRUE(first.SaveCheckpoint("session", "resume", false, true).ok());
  Train(first, Algorithm::kPpo, 1);

  LearnerCore resumed(TestStorage());
  Start(resumed, CriticOptions());
  absl::StatusOr<CheckpointInfo> loaded = resumed.LoadCheckpoint("session", "resume", false);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version, 2u);
  Train(resumed, Algorithm::kPpo, 1);
  EXPECT_EQ(MaxDifference(first, resumed), 0.0) << "the policy did not resume exactly";
  EXPECT_EQ(MaxDifference(CriticOf(first, "resume_a"), CriticOf(resumed, "resume_b")), 0.0)
      << "the critic did not resume exactly";

  // A checkpoint of a value-head session has no critic to resume.
  LearnerCore plain(TestStorage());
  Start(plain, Options(Algorithm::kPpo));
  ASSERT_TRUE(plain.SaveCheckpoint("session", "no_critic", false, true).ok());
  absl::StatusOr<CheckpointInfo> refused = resumed.LoadCheckpoint("session", "no_critic", false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("has no critic"));
  EXPECT_TRUE(resumed.LoadCheckpoint("session", "no_critic", true).ok());  // weights only
}

TEST_F(CriticTest, ACriticThatDoesNotFitThePolicyIsRefused) {
  LearnerCore core(TestStorage());
  bool created = false;
  SessionOptions o = CriticOptions();
  o.value_path = (*dir_ / "other_vocab").string();
  absl::StatusOr<SessionStatus> s = core.StartSession(o, "", true, &created, "session");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("value_checkpoint: a vocabulary of 32"));
  o = Options(Algorithm::kPpo);
  o.ppo.critic_learning_rate = 1e-3;
  s = core.StartSession(o, "", true, &created, "session");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("config.ppo.critic_learning_rate"));
  Start(core, CriticOptions());
}

}  // namespace
}  // namespace plumb::learner
