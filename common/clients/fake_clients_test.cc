#include "common/clients/fake_clients.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/str_cat.h"

namespace plumb::clients {
namespace {

using ::testing::HasSubstr;

generator::GenerateJob Job(int prompts, int samples, uint64_t seed = 5) {
  generator::GenerateJob job;
  job.request_id = "r";
  for (int i = 0; i < prompts; ++i) {
    job.prompts.push_back({.id = absl::StrCat("p", i), .text = absl::StrCat("prompt ", i)});
  }
  job.sampling.num_samples = samples;
  job.sampling.seed = seed;
  job.sampling.max_new_tokens = 8;
  job.sampling.return_logprobs = true;
  return job;
}

TEST(CancellationTest, CallbacksRunOnceAtCancelAndAtOnceWhenAlreadyCancelled) {
  auto cancellation = std::make_shared<Cancellation>();
  int runs = 0;
  {
    CancellationScope scope(cancellation, [&] { ++runs; });
    CancellationScope gone(cancellation, [&] { runs += 100; });
  }
  CancellationScope scope(cancellation, [&] { ++runs; });
  cancellation->Cancel();
  cancellation->Cancel();
  EXPECT_EQ(runs, 1);  // the ended scopes' callbacks were unregistered
  CancellationScope late(cancellation, [&] { ++runs; });
  EXPECT_EQ(runs, 2);
  EXPECT_TRUE(cancellation->cancelled());
}

TEST(FakeGeneratorTest, SameJobSameVersionSameRolloutsOnAnyReplica) {
  FakeGenerator a("a:1"), b("b:1");
  absl::StatusOr<std::vector<generator::RolloutResult>> ra = a.GenerateAll(Job(3, 2), {});
  absl::StatusOr<std::vector<generator::RolloutResult>> rb = b.GenerateAll(Job(3, 2), {});
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_EQ(ra->size(), 6u);
  for (size_t i = 0; i < ra->size(); ++i) {
    EXPECT_EQ((*ra)[i].response_ids, (*rb)[i].response_ids);
    EXPECT_EQ((*ra)[i].logprobs.size(), (*ra)[i].response_ids.size());
  }
  b.SetPolicyVersion(3);
  rb = b.GenerateAll(Job(3, 2), {});
  int differ = 0;
  for (size_t i = 0; i < ra->size(); ++i) differ += (*ra)[i].response_ids != (*rb)[i].response_ids;
  EXPECT_GT(differ, 0);
  EXPECT_EQ((*rb)[0].policy_version, 3u);
  EXPECT_EQ(b.jobs().size(), 2u);
}

TEST(FakeReplicaTest, FailsAfterNCalls) {
  FakeScorer scorer("s:1");
  scorer.SetFaults({.fail_after_calls = 2, .failure = absl::InternalError("boom")});
  const std::vector<scorer::ScoreInput> items = {{.id = "x", .response_ids = {1, 2}}};
  EXPECT_TRUE(scorer.Score(items, {}, {}).ok());
  absl::StatusOr<std::vector<scorer::ScoreOutput>> second = scorer.Score(items, {}, {});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*(*second)[0].reward, 2.0);
  EXPECT_EQ(scorer.Score(items, {}, {}).status().message(), "boom");
  EXPECT_EQ(scorer.calls(), 3);
}

TEST(FakeReplicaTest, AHangEndsAtTheDeadlineOrAtCancel) {
  FakeReference reference("r:1");
  reference.SetFaults({.hang = true});
  const reference::LogProbsJob job{.items = {{.id = "x", .prompt = {1}, .response = {2}}}};
  const absl::Time start = absl::Now();
  absl::Status status = reference.LogProbs(job, {.timeout = absl::Milliseconds(50)}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  auto cancellation = std::make_shared<Cancellation>();
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(30));
    cancellation->Cancel();
  });
  status = reference.LogProbs(job, {.timeout = absl::Seconds(30), .cancellation = cancellation})
               .status();
  canceller.join();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << status;
}

TEST(FakeReplicaTest, LatencyDelaysAndALostReplicaIsUnavailable) {
  FakeGenerator generator("g:1");
  generator.SetFaults({.latency = absl::Milliseconds(40)});
  const absl::Time start = absl::Now();
  EXPECT_TRUE(generator.GenerateAll(Job(1, 1), {}).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(40));
  // Latency beyond the call's deadline is a deadline exceeded.
  EXPECT_EQ(generator.GenerateAll(Job(1, 1), {.timeout = absl::Milliseconds(5)}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  generator.Lose();
  const absl::Status lost = generator.GenerateAll(Job(1, 1), {}).status();
  EXPECT_EQ(lost.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(lost.message(), HasSubstr("g:1"));
}

TEST(FakeGeneratorTest, AReplicaLostMidStreamHandsOutSomeRolloutsThenFails) {
  FakeGenerator generator("g:1");
  generator.LoseAfterRollouts(3);
  int seen = 0;
  const absl::Status status = generator.Generate(Job(2, 4), {}, [&](generator::RolloutResult) {
    ++seen;
    return true;
  });
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(generator.GenerateAll(Job(1, 1), {}).status().code(), absl::StatusCode::kUnavailable);
}

TEST(FakeLearnerTest, TrainsPublishesToRegisteredGeneratorsAndAnswersRetriesFromMemory) {
  FakeGenerator generator("g:1");
  FakeLearner learner("l:1");
  learner.AddPublishTarget(&generator);
  learner::SessionOptions options;
  options.algorithm = learner::Algorithm::kPpo;
  options.ppo.epochs = 2;
  absl::StatusOr<learner::SessionStatus> session = learner.StartSession({.options = options}, {});
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(learner.StartSession({.options = options}, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  const TrainCall call{.session_id = session->id, .sequence = 7, .batch = ExperienceBatch{}};
  absl::StatusOr<learner::TrainStats> stats = learner.Train(call, {});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->policy_version, 2u);
  EXPECT_EQ(learner.Train(call, {})->policy_version, 2u);  // the retry is not trained again
  EXPECT_EQ(learner.train_calls().size(), 1u);
  absl::StatusOr<PublishOutcome> published = learner.PublishWeights(
      {.session_id = session->id, .targets = {{"g:1", ""}, {"nowhere:1", ""}}}, {});
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(published->failed_targets, 1);
  EXPECT_TRUE(published->results[0].status.ok());
  EXPECT_EQ(published->results[1].status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(generator.policy_version(), 2u);
  EXPECT_EQ(learner.Train({.session_id = "other"}, {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(*learner.EndSession(session->id, {}), 2u);
}

}  // namespace
}  // namespace plumb::clients
