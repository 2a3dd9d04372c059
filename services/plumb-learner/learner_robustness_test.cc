// LearnerCore under hostile or unlucky input: a cancelled Train call stops at a boundary and
// leaves exactly its completed steps (on one process and on two data-parallel ranks, which stop
// together); options outside their documented ranges are refused naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <climits>
#include <functional>

#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_core_test_support.h"
#include "services/plumb-learner/learner_limits.h"

namespace plumb::learner {
namespace {

using ::testing::HasSubstr;

TEST_F(LearnerCoreTest, CancelledPpoCallKeepsExactlyTheStepsItCompleted) {
  SessionOptions o = Options(Algorithm::kPpo);
  o.ppo.epochs = 3;  // one step per epoch: the whole batch is one minibatch
  LearnerCore three;
  Start(three, o);
  ASSERT_EQ(Train(three, Algorithm::kPpo, 1).policy_version, 3u);

  o.ppo.epochs = kMaxEpochs;
  LearnerCore core;
  Start(core, o);
  const CancelPredicate after_three = [&core] { return core.Status()->optimizer_steps >= 3; };
  absl::StatusOr<TrainStats> cancelled =
      core.TrainExperience("session", Rollouts(), 1.0, after_three);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled) << cancelled.status();
  EXPECT_THAT(std::string(cancelled.status().message()),
              HasSubstr("3 earlier optimizer step(s) stay (policy version 3)"));
  EXPECT_EQ(core.Status()->policy_version, 3u);
  EXPECT_EQ(core.Status()->train_calls, 0u);
  EXPECT_EQ(MaxDifference(core, three), 0.0) << "the cancelled call applied a fourth step";
  // The session is not wedged: the next call runs to the end.
  absl::StatusOr<TrainStats> next = core.TrainExperience("session", Rollouts(), 1.0);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->policy_version, 3u + kMaxEpochs);
  EXPECT_EQ(core.Status()->train_calls, 1u);
}

TEST_F(LearnerCoreTest, CancellingBetweenMicroBatchesDropsTheGradientsAndTheAccumulationWindow) {
  SessionOptions o = Options(Algorithm::kDpo);
  o.gradient_accumulation_steps = 2;
  o.micro_batch_size = 1;
  LearnerCore core;
  Start(core, o);
  ASSERT_TRUE(core.TrainPreference("session", Pairs()).ok());  // half a window
  int asked = 0;
  const CancelPredicate before_second_micro_batch = [&asked] { return ++asked >= 2; };
  absl::StatusOr<TrainStats> cancelled =
      core.TrainPreference("session", Pairs(), before_second_micro_batch);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled) << cancelled.status();
  EXPECT_EQ(core.Status()->policy_version, 0u);
  // The next two calls make the step a fresh session makes of them: nothing of the first call or
  // of the cancelled one's first micro-batch is left in the gradients.
  LearnerCore fresh;
  Start(fresh, o);
  for (LearnerCore* c : {&core, &fresh}) {
    ASSERT_TRUE(c->TrainPreference("session", Pairs()).ok());
    absl::StatusOr<TrainStats> stepped = c->TrainPreference("session", Pairs());
    ASSERT_TRUE(stepped.ok());
    EXPECT_EQ(stepped->policy_version, 1u);
  }
  EXPECT_LT(MaxDifference(core, fresh), 1e-7);
}

TEST_F(LearnerCoreTest, DataParallelRanksStopTogetherWhenRankZerosCallerCancels) {
  std::vector<absl::Status> first(2), second(2);
  std::vector<uint64_t> first_version(2), second_version(2);
  std::vector<absl::StatusOr<PolicyWeights>> weights(2, absl::InternalError("not run"));
  OnTwoRanks([&](LearnerCore& core, int rank) {
    SessionOptions o = Options(Algorithm::kPpo);
    o.ppo.epochs = kMaxEpochs;
    Start(core, o);
    // Only rank 0 has a caller; rank 1 follows the ranks' vote at each step.
    auto stop_at = [&core, rank](uint64_t steps) -> CancelPredicate {
      if (rank != 0) return {};
      return [&core, steps] { return core.Status()->optimizer_steps >= steps; };
    };
    first[rank] = core.TrainExperience("session", Rollouts(), 1.0, stop_at(2)).status();
    first_version[rank] = core.Status()->policy_version;
    second[rank] = core.TrainExperience("session", Rollouts(), 1.0, stop_at(5)).status();
    second_version[rank] = core.Status()->policy_version;
    weights[rank] = core.Weights("session", torch::kFloat);
  });
  for (int rank = 0; rank < 2; ++rank) {
    SCOPED_TRACE(rank);
    EXPECT_EQ(first[rank].code(), absl::StatusCode::kCancelled) << first[rank];
    EXPECT_EQ(second[rank].code(), absl::StatusCode::kCancelled) << second[rank];
    EXPECT_EQ(first_version[rank], 2u);
    EXPECT_EQ(second_version[rank], 5u);
    ASSERT_TRUE(weights[rank].ok());
  }
  for (const auto& [name, t] : weights[0]->tensors) {
    EXPECT_TRUE(t.equal(weights[1]->tensors.at(name))) << name;
  }
}

TEST_F(LearnerCoreTest, SizeOptionsOutsideTheirLimitsAreRefusedNamingTheField) {
  struct Bad {
    Algorithm algorithm;
    std::function<void(SessionOptions&)> edit;
    const char* message;
  };
  const std::vector<Bad> cases = {
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.epochs = INT_MAX; },
       "config.ppo.epochs: must be in [1, 100]"},
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.minibatch_size = -1; },
       "config.ppo.minibatch_size: must be in [0, 65536]"},
      {Algorithm::kPpo, [](SessionOptions& o) { o.ppo.kl_horizon = 0; },
       "config.ppo.kl.adaptive.horizon"},
      {Algorithm::kGrpo, [](SessionOptions& o) { o.critic_free.epochs = 1000; },
       "config.grpo.epochs: must be in [1, 100]"},
      {Algorithm::kRloo, [](SessionOptions& o) { o.critic_free.minibatch_size = 1 << 30; },
       "config.rloo.minibatch_size"},
      {Algorithm::kRejectionSamplingSft, [](SessionOptions& o) { o.rejection_sampling.top_n = 0; },
       "config.rejection_sampling.top_n_per_prompt"},
      {Algorithm::kDpo, [](SessionOptions& o) { o.gradient_accumulation_steps = 1 << 20; },
       "config.optimizer.gradient_accumulation_steps: must be in [1, 1024]"},
      {Algorithm::kSft, [](SessionOptions& o) { o.schedule.warmup_steps = -1; },
       "config.optimizer.warmup_steps"},
      {Algorithm::kSft, [](SessionOptions& o) { o.total_steps = int64_t{1} << 40; },
       "config.optimizer.total_steps"},
      {Algorithm::kSft, [](SessionOptions& o) { o.micro_batch_size = 1 << 30; },
       "config.micro_batch_size"},
      {Algorithm::kSft, [](SessionOptions& o) { o.max_sequence_length = int64_t{1} << 40; },
       "config.max_sequence_length"},
      {Algorithm::kSft, [](SessionOptions& o) { o.lora = model::LoraOptions{.rank = 1 << 20}; },
       "config.lora.rank"},
  };
  LearnerCore core;
  for (const Bad& bad : cases) {
    SCOPED_TRACE(bad.message);
    SessionOptions o = Options(bad.algorithm);
    bad.edit(o);
    bool created = true;
    absl::StatusOr<SessionStatus> s = core.StartSession(o, "", true, &created, "session");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(bad.message));
    EXPECT_FALSE(created);
  }
  // A good request still starts a session.
  Start(core, Options(Algorithm::kPpo));
  EXPECT_TRUE(core.Status().has_value());
}

}  // namespace
}  // namespace plumb::learner
