// JobStore events: contiguous sequences, the status and records committed with each event (all
// or nothing), read-modify-write without lost updates, terminal states, the listener.
#include "services/plumb-coordinator/job_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/plumb-coordinator/job_store_test_util.h"

namespace plumb::coordinator {
namespace {

using ::plumb::coordinator::testing::Event;
using ::plumb::coordinator::testing::JobStoreTest;
using ::plumb::coordinator::testing::kLog;
using ::plumb::coordinator::testing::kRoundFinished;
using ::plumb::coordinator::testing::kStateChanged;
using ::plumb::coordinator::testing::MakeJob;
using ::plumb::coordinator::testing::TestTime;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(JobStoreTest, AnEventCarriesTheStatusItReportsAndKeepsStoreOwnedFields) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  JobStatusRecord status;
  status.state = JobState::kRunning;
  status.start_time = TestTime(1);
  status.round = 4;
  status.metrics = {{"reward_mean", 1.5}};
  status.create_time = TestTime(999);  // ignored: the store keeps create_time
  status.last_event_sequence = 77;     // ignored
  EventRecord event = Event(kRoundFinished, "round 4");
  event.time = TestTime(2);
  event.round = 4;
  event.payload = std::string("\x08\x01", 2);
  absl::StatusOr<EventRecord> stored = store_->AppendEvent(id, {.event = event, .status = status});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->sequence, 2u);
  EXPECT_EQ(stored->state, JobState::kRunning);
  EXPECT_EQ(stored->job_id, id);

  absl::StatusOr<JobRecord> job = store_->GetJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status.state, JobState::kRunning);
  EXPECT_EQ(job->status.round, 4);
  EXPECT_EQ(job->status.start_time, TestTime(1));
  EXPECT_EQ(job->status.create_time, TestTime(0));
  EXPECT_EQ(job->status.update_time, TestTime(2));
  EXPECT_EQ(job->status.last_event_sequence, 2u);
  EXPECT_EQ(job->status.metrics.at("reward_mean"), 1.5);

  // An event without a status keeps the status and still advances the sequence.
  ASSERT_TRUE(store_->AppendEvent(id, {.event = Event(kLog, "note")}).ok());
  job = store_->GetJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status.round, 4);
  EXPECT_EQ(job->status.last_event_sequence, 3u);
  absl::StatusOr<std::vector<EventRecord>> events = store_->EventsAfter(id, 1);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].payload, event.payload);
  EXPECT_EQ((*events)[0].round, 4);
  EXPECT_EQ((*events)[1].state, JobState::kRunning);
}

TEST_F(JobStoreTest, AFailedUpdateWritesNeitherTheEventNorTheStatus) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  RoundRecord round{.round = 0, .policy_version = 1};
  JobStatusRecord running;
  running.state = JobState::kRunning;
  ASSERT_TRUE(
      store_->AppendEvent(id, {.event = Event(kRoundFinished), .status = running, .round = round})
          .ok());
  // The same round again: refused whole, although the event and status alone were valid.
  JobStatusRecord later = running;
  later.round = 1;
  later.retries = 9;
  absl::StatusOr<EventRecord> repeated =
      store_->AppendEvent(id, {.event = Event(kRoundFinished),
                               .status = later,
                               .round = round,
                               .checkpoint = CheckpointRecord{.path = "/ckpt/x"}});
  EXPECT_EQ(repeated.status().code(), absl::StatusCode::kAlreadyExists) << repeated.status();
  // A status out of bounds after a valid event: refused whole as well.
  later.progress = 2;
  EXPECT_EQ(store_->AppendEvent(id, {.event = Event(kLog), .status = later}).status().code(),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<JobRecord> job = store_->GetJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status.last_event_sequence, 2u);
  EXPECT_EQ(job->status.retries, 0);
  EXPECT_EQ(job->status.latest_checkpoint, "");
  absl::StatusOr<std::vector<EventRecord>> events = store_->EventsAfter(id, 0);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->size(), 2u);
  absl::StatusOr<std::optional<CheckpointRecord>> checkpoint = store_->LatestCheckpoint(id);
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_FALSE(checkpoint->has_value());
  // The next event takes the next sequence: no gap was left.
  absl::StatusOr<EventRecord> next = store_->AppendEvent(id, {.event = Event(kLog)});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->sequence, 3u);
}

TEST_F(JobStoreTest, EventsStayContiguousUnderConcurrentAppends) {
  const std::string first = Create(MakeJob("alice", 0)).job_id;
  const std::string second = Create(MakeJob("bob", 0)).job_id;
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  absl::Mutex errors_mu;
  std::vector<absl::Status> errors;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string& id = (t + i) % 2 == 0 ? first : second;
        absl::StatusOr<EventRecord> stored =
            store_->AppendEvent(id, {.event = Event(kLog, absl::StrCat(t, "/", i))});
        if (!stored.ok()) {
          absl::MutexLock lock(&errors_mu);
          errors.push_back(stored.status());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(errors.empty()) << errors.front();
  std::set<std::string> messages;
  for (const std::string& id : {first, second}) {
    absl::StatusOr<std::vector<EventRecord>> events = store_->EventsAfter(id, 0);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), 1u + kThreads * kEach / 2);
    for (size_t i = 0; i < events->size(); ++i) {
      EXPECT_EQ((*events)[i].sequence, i + 1);
      if (i > 0) messages.insert((*events)[i].message);
    }
    absl::StatusOr<JobRecord> job = store_->GetJob(id);
    ASSERT_TRUE(job.ok());
    EXPECT_EQ(job->status.last_event_sequence, events->size());
  }
  EXPECT_EQ(messages.size(), static_cast<size_t>(kThreads * kEach));
}

TEST_F(JobStoreTest, UpdateJobLosesNoUpdateWhenThreadsRace) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  constexpr int kThreads = 4;
  constexpr int kEach = 10;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        absl::StatusOr<EventRecord> stored =
            store_->UpdateJob(id, [](const JobRecord& current) -> absl::StatusOr<JobUpdate> {
              JobStatusRecord status = current.status;
              ++status.retries;
              return JobUpdate{.event = Event(10, "retry"), .status = status};
            });
        EXPECT_TRUE(stored.ok()) << stored.status();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::StatusOr<JobRecord> job = store_->GetJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status.retries, kThreads * kEach);
  // A `decide` error writes nothing.
  absl::StatusOr<EventRecord> refused =
      store_->UpdateJob(id, [](const JobRecord&) -> absl::StatusOr<JobUpdate> {
        return absl::FailedPreconditionError("job already SUCCEEDED");
      });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  job = store_->GetJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status.last_event_sequence, 1u + kThreads * kEach);
}

TEST_F(JobStoreTest, ATerminalEventIsTheLastAndReleasesTheJobsLeases) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  ASSERT_TRUE(store_
                  ->AcquireLeases(id, {{.worker_id = "gen-1", .role = 1},
                                       {.worker_id = "learner-1", .role = 4}})
                  .ok());
  JobStatusRecord cancelled;
  cancelled.state = JobState::kCancelled;
  ASSERT_TRUE(store_->AppendEvent(id, {.event = Event(kStateChanged), .status = cancelled}).ok());
  absl::StatusOr<std::vector<LeaseRecord>> leases = store_->Leases();
  ASSERT_TRUE(leases.ok());
  EXPECT_TRUE(leases->empty());
  absl::StatusOr<EventRecord> after = store_->AppendEvent(id, {.event = Event(kLog)});
  EXPECT_EQ(after.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(after.status().message()), HasSubstr("CANCELLED"));
  EXPECT_EQ(store_->AcquireLeases(id, {{.worker_id = "gen-1"}}).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->CompleteRound({.job_id = id}).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(JobStoreTest, EventsAfterResumesFromASequenceWithinTheLimit) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(store_->AppendEvent(id, {.event = Event(kLog)}).ok());
  absl::StatusOr<std::vector<EventRecord>> events = store_->EventsAfter(id, 3, 2);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_EQ((*events)[0].sequence, 4u);
  EXPECT_EQ((*events)[1].sequence, 5u);
  events = store_->EventsAfter(id, 6);
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  events = store_->EventsAfter(id, std::numeric_limits<uint64_t>::max());
  ASSERT_TRUE(events.ok());
  EXPECT_TRUE(events->empty());
  EXPECT_EQ(store_->EventsAfter(id, 0, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->EventsAfter(id, 0, 10001).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobStoreTest, TheListenerHearsEveryCommittedEventAndNoRefusedOne) {
  absl::Mutex mu;
  std::vector<uint64_t> heard;
  store_->SetEventListener([&](const EventRecord& event) {
    absl::MutexLock lock(&mu);
    heard.push_back(event.sequence);
  });
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  ASSERT_TRUE(store_->AppendEvent(id, {.event = Event(kLog)}).ok());
  EventRecord bad = Event(kLog);
  bad.stage_index = -1;
  EXPECT_FALSE(store_->AppendEvent(id, {.event = bad}).ok());
  absl::MutexLock lock(&mu);
  EXPECT_THAT(heard, ElementsAre(1, 2));
}

}  // namespace
}  // namespace plumb::coordinator
