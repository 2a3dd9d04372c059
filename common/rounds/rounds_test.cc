// The round functions on the in-memory fakes: what a round returns when everything works, when
// a generator replica dies half-way, when the scorer is too slow, when the learner fails a call,
// and when the caller cancels.
#include "common/rounds/rounds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clients/fake_clients.h"

namespace plumb::rounds {
namespace {

using clients::FakeGenerator;
using clients::FakeLearner;
using clients::FakeReference;
using clients::FakeScorer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (FakeGenerator* g : {&gen_a_, &gen_b_}) learner_.AddPublishTarget(g);
  }

  std::string Start(learner::Algorithm algorithm, int epochs = 1) {
    learner::SessionOptions options;
    options.algorithm = algorithm;
    options.ppo.epochs = epochs;
    return learner_.StartSession({.options = options, .replace_active = true}, {})->id;
  }

  RoundSpec Spec(const std::string& session, int prompts = 4, int samples = 2) {
    RoundSpec spec;
    spec.round_id = "round-1";
    spec.session_id = session;
    for (int i = 0; i < prompts; ++i) {
      spec.prompts.push_back({.id = absl::StrCat("p", i), .text = absl::StrCat("prompt ", i)});
    }
    spec.sampling.num_samples = samples;
    spec.sampling.seed = 11;
    spec.sampling.max_new_tokens = 12;
    spec.call_timeout = absl::Seconds(10);
    return spec;
  }

  RoundClients Clients() { return {{&gen_a_, &gen_b_}, &scorer_, &reference_, &learner_}; }

  FakeGenerator gen_a_{"gen-a:1"}, gen_b_{"gen-b:1"};
  FakeScorer scorer_{"scorer:1"};
  FakeReference reference_{"reference:1", -2.0f};
  FakeLearner learner_{"learner:1"};
};

TEST_F(RoundsTest, APolicyGradientRoundTrainsOnEveryRolloutAndPublishesToEveryGenerator) {
  const std::string session = Start(learner::Algorithm::kPpo, /*epochs=*/2);
  scorer_.SetFaults({.latency = absl::Milliseconds(30)});
  absl::StatusOr<RoundReport> report = RunPolicyGradientRound(Clients(), Spec(session));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rollouts.size(), 8u);
  EXPECT_GE(report->wall.score, 0.03);  // the scorer's latency shows in its phase
  EXPECT_LT(report->wall.generate, 0.03);
  EXPECT_TRUE(report->lost_generators.empty());
  // Both replicas did part of the work.
  EXPECT_EQ(gen_a_.jobs().size(), 1u);
  EXPECT_EQ(gen_b_.jobs().size(), 1u);
  EXPECT_EQ(report->stats.policy_version, 2u);
  ASSERT_TRUE(report->published.has_value());
  EXPECT_EQ(report->published->failed_targets, 0);
  EXPECT_EQ(gen_a_.policy_version(), 2u);
  EXPECT_EQ(gen_b_.policy_version(), 2u);
  // The learner got one experience per rollout, grouped by prompt, with the fake reference's
  // log-probs and the scorer's rewards (the fake rewards a response by its length).
  const std::vector<clients::TrainCall> calls = learner_.train_calls();
  ASSERT_EQ(calls.size(), 1u);
  const auto& batch = std::get<clients::ExperienceBatch>(calls[0].batch);
  ASSERT_EQ(batch.experiences.size(), 8u);
  EXPECT_EQ(batch.experiences[0].group, "round-1/p0");
  EXPECT_EQ(batch.experiences[0].reward, static_cast<double>(batch.experiences[0].response.size()));
  EXPECT_EQ(batch.experiences[0].ref_logprobs,
            std::vector<float>(batch.experiences[0].response.size(), -2.0f));
  // Quality figures beside the reward.
  const RolloutQuality& q = report->quality;
  EXPECT_EQ(q.rollouts, 8);
  EXPECT_GT(q.mean_response_tokens, 0);
  EXPECT_NEAR(q.reward_mean, q.mean_response_tokens, 1e-9);
  EXPECT_GT(q.distinct_1, 0);
  EXPECT_LE(q.distinct_1, 1);
  ASSERT_TRUE(q.kl.has_value());
  EXPECT_GT(*q.kl, 0);  // behaviour log-probs (-1..-1.5) are above the reference's -2
  // The reference scored the rollouts at the sampling temperature (the fakes' default, 1), and
  // at the one a round sets (below), like the learner's batch.
  EXPECT_THAT(reference_.temperatures(), ElementsAre(1.0));
  EXPECT_EQ(batch.temperature, 1.0);
  // The next round's rollouts come from the new version.
  RoundSpec next = Spec(session);
  next.round_id = "round-2";
  next.min_policy_version = 2;
  absl::StatusOr<RoundReport> second = RunPolicyGradientRound(Clients(), next);
  ASSERT_TRUE(second.ok()) << second.status();
  for (const auto& r : second->rollouts) EXPECT_EQ(r.policy_version, 2u);
  RoundSpec warm = Spec(session);
  warm.round_id = "round-3";
  warm.sampling.temperature = 0.7;
  ASSERT_TRUE(RunPolicyGradientRound(Clients(), warm).ok());
  EXPECT_THAT(reference_.temperatures(), ElementsAre(1.0, 1.0, 0.7));
  EXPECT_EQ(std::get<clients::ExperienceBatch>(learner_.train_calls().back().batch).temperature,
            0.7);
}

TEST_F(RoundsTest, AGeneratorLostMidRoundHandsItsShareToTheOtherReplica) {
  const std::string session = Start(learner::Algorithm::kGrpo);
  // A clean run on one replica, for comparison.
  FakeGenerator alone("alone:1");
  std::vector<std::string> lost;
  absl::StatusOr<std::vector<generator::RolloutResult>> expected =
      GenerateAcrossReplicas({&alone}, Spec(session), &lost);
  ASSERT_TRUE(expected.ok());

  gen_b_.LoseAfterRollouts(1);  // the stream breaks after one rollout
  absl::StatusOr<RoundReport> report = RunPolicyGradientRound(Clients(), Spec(session));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(report->lost_generators, ElementsAre("gen-b:1"));
  ASSERT_EQ(report->rollouts.size(), expected->size());
  for (size_t i = 0; i < expected->size(); ++i) {
    EXPECT_EQ(report->rollouts[i].prompt_id, (*expected)[i].prompt_id);
    EXPECT_EQ(report->rollouts[i].response_ids, (*expected)[i].response_ids);
  }
  EXPECT_EQ(gen_a_.jobs().size(), 2u);  // its own share, then the lost replica's
  // Weights go only to the live replica.
  ASSERT_TRUE(report->published.has_value());
  ASSERT_EQ(report->published->results.size(), 1u);
  EXPECT_EQ(report->published->results[0].target.endpoint, "gen-a:1");
}

TEST_F(RoundsTest, EveryGeneratorLostIsUnavailableAndNothingIsTrained) {
  const std::string session = Start(learner::Algorithm::kPpo);
  gen_a_.Lose();
  gen_b_.Lose();
  absl::StatusOr<RoundReport> report = RunPolicyGradientRound(Clients(), Spec(session));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(report.status().message(), HasSubstr("generate: every generator replica failed"));
  EXPECT_THAT(report.status().message(), HasSubstr("gen-a:1"));
  EXPECT_TRUE(learner_.train_calls().empty());
}

TEST_F(RoundsTest, AScorerSlowerThanTheCallDeadlineEndsTheRoundBeforeTraining) {
  const std::string session = Start(learner::Algorithm::kPpo);
  scorer_.SetFaults({.latency = absl::Seconds(5)});
  RoundSpec spec = Spec(session);
  spec.call_timeout = absl::Milliseconds(100);
  const absl::Time start = absl::Now();
  absl::StatusOr<RoundReport> report = RunPolicyGradientRound(Clients(), spec);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(report.status().message(), HasSubstr("score: "));
  EXPECT_TRUE(learner_.train_calls().empty());
  EXPECT_EQ(gen_a_.policy_version(), 0u);
}

TEST_F(RoundsTest, ALearnerThatFailsTrainEndsTheRoundWithoutPublishing) {
  const std::string session = Start(learner::Algorithm::kPpo);
  learner_.SetFaults({.fail_after_calls = 0,
                      .failure = absl::FailedPreconditionError("the session FAILED: rank lost")});
  absl::StatusOr<RoundReport> report = RunPolicyGradientRound(Clients(), Spec(session));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(report.status().message(), "train: the session FAILED: rank lost");
  EXPECT_EQ(learner_.publish_calls(), 0);
  EXPECT_EQ(gen_a_.policy_version(), 0u);
}

TEST_F(RoundsTest, CancellingARoundStopsTheCallInFlight) {
  const std::string session = Start(learner::Algorithm::kPpo);
  reference_.SetFaults({.hang = true});
  RoundSpec spec = Spec(session);
  spec.cancellation = std::make_shared<clients::Cancellation>();
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(100));
    spec.cancellation->Cancel();
  });
  absl::StatusOr<RoundReport> report = RunPolicyGradientRound(Clients(), spec);
  canceller.join();
  EXPECT_EQ(report.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(report.status().message(), HasSubstr("reference: "));
  EXPECT_TRUE(learner_.train_calls().empty());
}

TEST_F(RoundsTest, ARejectionSamplingRoundSendsEverySampleWithoutReferenceLogProbs) {
  const std::string session = Start(learner::Algorithm::kRejectionSamplingSft);
  RoundClients c = Clients();
  c.reference = nullptr;  // not needed
  absl::StatusOr<RoundReport> report = RunRejectionSamplingRound(c, Spec(session, 2, 4));
  ASSERT_TRUE(report.ok()) << report.status();
  const std::vector<clients::TrainCall> calls = learner_.train_calls();
  const auto& batch = std::get<clients::ExperienceBatch>(calls[0].batch);
  ASSERT_EQ(batch.experiences.size(), 8u);
  for (const auto& x : batch.experiences) EXPECT_TRUE(x.ref_logprobs.empty());
  EXPECT_EQ(reference_.calls(), 0);
  EXPECT_FALSE(report->quality.kl.has_value());
  EXPECT_EQ(gen_b_.policy_version(), 1u);
}

TEST_F(RoundsTest, ADpoRoundPrefersEachPromptsBestSampleOverItsWorst) {
  const std::string session = Start(learner::Algorithm::kDpo);
  absl::StatusOr<RoundReport> report = RunDpoRound(Clients(), Spec(session, 3, 4));
  ASSERT_TRUE(report.ok()) << report.status();
  const std::vector<clients::TrainCall> calls = learner_.train_calls();
  const auto& pairs = std::get<std::vector<learner::PreferenceExample>>(calls[0].batch);
  EXPECT_EQ(pairs.size(), report->pairs.size());
  ASSERT_FALSE(pairs.empty());
  for (const learner::PreferenceExample& p : pairs) {
    EXPECT_GT(p.chosen.size(), p.rejected.size());  // the fake scorer rewards length
    EXPECT_EQ(*p.ref_chosen, -2.0 * static_cast<double>(p.chosen.size()));
    EXPECT_EQ(*p.ref_rejected, -2.0 * static_cast<double>(p.rejected.size()));
  }
}

TEST_F(RoundsTest, ADpoRoundWhoseSamplesAllTieHasNothingToTrain) {
  const std::string session = Start(learner::Algorithm::kDpo);
  FakeScorer flat("flat:1", [](const scorer::ScoreInput&) { return 1.0; });
  RoundClients c = Clients();
  c.scorer = &flat;
  absl::StatusOr<RoundReport> report = RunDpoRound(c, Spec(session));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(report.status().message(), HasSubstr("tied"));
  EXPECT_TRUE(learner_.train_calls().empty());
}

TEST_F(RoundsTest, AnEvaluationRoundScoresAndMeasuresWithoutTraining) {
  const std::string session = Start(learner::Algorithm::kPpo);
  absl::StatusOr<RoundReport> report = RunEvaluationRound(Clients(), Spec(session, 3, 2));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rollouts.size(), 6u);
  EXPECT_EQ(report->rewards.size(), 6u);
  EXPECT_EQ(report->quality.rollouts, 6);
  ASSERT_TRUE(report->quality.kl.has_value());  // behaviour vs the reference's -2 per token
  EXPECT_GT(report->quality.mean_response_tokens, 0);
  EXPECT_TRUE(learner_.train_calls().empty());
  EXPECT_EQ(learner_.publish_calls(), 0);
  EXPECT_FALSE(report->published.has_value());
}

// Asynchronous rounds train on rollouts generated earlier: those sampled by weights older than
// the bound are dropped with the rest of their prompt's group, and counted.
TEST_F(RoundsTest, TrainingOnGeneratedRolloutsDropsStaleGroupsWhole) {
  const std::string session = Start(learner::Algorithm::kGrpo);
  gen_a_.SetPolicyVersion(1);  // stale
  gen_b_.SetPolicyVersion(5);
  absl::StatusOr<GeneratedRound> generated = GeneratePolicyGradientRound(Clients(), Spec(session));
  ASSERT_TRUE(generated.ok()) << generated.status();
  size_t stale = 0;
  for (const generator::RolloutResult& r : generated->rollouts) stale += r.policy_version < 3;
  ASSERT_GT(stale, 0u);
  ASSERT_LT(stale, generated->rollouts.size());
  absl::StatusOr<RoundReport> report =
      TrainPolicyGradientRound(Clients(), Spec(session), *generated, /*min_policy_version=*/3);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->dropped_stale, static_cast<int64_t>(stale));
  const auto& batch = std::get<clients::ExperienceBatch>(learner_.train_calls().back().batch);
  EXPECT_EQ(batch.experiences.size(), generated->rollouts.size() - stale);
  for (const learner::Experience& e : batch.experiences) EXPECT_GE(e.policy_version, 3u);
  // Every rollout stale: nothing to train, nothing trained.
  const size_t trained = learner_.train_calls().size();
  EXPECT_TRUE(absl::IsFailedPrecondition(
      TrainPolicyGradientRound(Clients(), Spec(session), *generated, 100).status()));
  EXPECT_EQ(learner_.train_calls().size(), trained);
}

TEST_F(RoundsTest, BadSpecsAreRefusedByField) {
  RoundSpec spec = Spec("s");
  spec.prompts.push_back(spec.prompts[0]);
  EXPECT_THAT(RunPolicyGradientRound(Clients(), spec).status().message(),
              HasSubstr("spec.prompts: id 'p0' twice"));
  RoundClients c = Clients();
  c.reference = nullptr;
  EXPECT_THAT(RunPolicyGradientRound(c, Spec("s")).status().message(),
              HasSubstr("clients.reference"));
}

}  // namespace
}  // namespace plumb::rounds
