#include "services/plumb-coordinator/retrying_clients.h"

#include <gtest/gtest.h>

#include <deque>

#include "common/clients/fake_clients.h"

namespace plumb::coordinator {
namespace {

RetryPlan Fast(int attempts) {
  RetryPlan plan;
  plan.max_attempts = attempts;
  plan.initial_backoff = absl::Milliseconds(1);
  plan.max_backoff = absl::Milliseconds(4);
  return plan;
}

TEST(CallWithRetriesTest, TransientFailuresAreRetriedUpToMaxAttempts) {
  std::deque<absl::Status> answers = {absl::UnavailableError("down"),
                                      absl::DeadlineExceededError("slow"), absl::OkStatus()};
  int calls = 0, heard = 0;
  const absl::Status status = CallWithRetries(
      Fast(3), {},
      [&] {
        ++calls;
        absl::Status next = answers.front();
        answers.pop_front();
        return next;
      },
      [&](const absl::Status&) { ++heard; });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(heard, 2);

  calls = 0;
  EXPECT_TRUE(absl::IsUnavailable(CallWithRetries(Fast(2), {}, [&] {
    ++calls;
    return absl::UnavailableError("still down");
  })));
  EXPECT_EQ(calls, 2);
}

TEST(CallWithRetriesTest, PermanentErrorsAndCancelledCallsAreNotRetried) {
  int calls = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(CallWithRetries(Fast(5), {}, [&] {
    ++calls;
    return absl::InvalidArgumentError("bad");
  })));
  EXPECT_EQ(calls, 1);
  auto cancellation = std::make_shared<clients::Cancellation>();
  cancellation->Cancel();
  calls = 0;
  EXPECT_TRUE(absl::IsUnavailable(CallWithRetries(Fast(5), {.cancellation = cancellation}, [&] {
    ++calls;
    return absl::UnavailableError("down");
  })));
  EXPECT_EQ(calls, 1);
}

TEST(RetryingLearnerClientTest, TrainIsRetriedOnlyWithASequenceNumber) {
  clients::FakeLearner fake("learner:1");
  learner::SessionOptions options;
  options.algorithm = learner::Algorithm::kSft;
  const std::string session = fake.StartSession({.options = options}, {})->id;
  RetryingLearnerClient learner(&fake, Fast(3));
  fake.SetFaults({.fail_after_calls = 1});  // the StartSession above was call 1
  clients::TrainCall unsequenced{
      .session_id = session, .sequence = 0, .batch = std::vector<learner::SftExample>{{{1}, {2}}}};
  EXPECT_TRUE(absl::IsUnavailable(learner.Train(unsequenced, {}).status()));
  EXPECT_EQ(fake.calls(), 2);  // once: a repeat could train twice
  clients::TrainCall sequenced = unsequenced;
  sequenced.sequence = 1;
  EXPECT_TRUE(absl::IsUnavailable(learner.Train(sequenced, {}).status()));
  EXPECT_EQ(fake.calls(), 5);  // three attempts
}

}  // namespace
}  // namespace plumb::coordinator
