// JobStore progress records: completed rounds, stages, checkpoints and worker leases.
#include "services/plumb-coordinator/job_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "services/plumb-coordinator/job_store_test_util.h"

namespace plumb::coordinator {
namespace {

using ::plumb::coordinator::testing::Event;
using ::plumb::coordinator::testing::JobStoreTest;
using ::plumb::coordinator::testing::MakeJob;
using ::plumb::coordinator::testing::TestTime;
using ::testing::HasSubstr;

TEST_F(JobStoreTest, ARoundRecordedTwiceIsAnErrorOnlyIfItDiffers) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  RoundRecord round{.job_id = id,
                    .stage_index = 1,
                    .round = 2,
                    .checkpoint_path = "/c/2",
                    .policy_version = 3,
                    .metrics = {{"reward", 0.5}}};
  ASSERT_TRUE(store_->CompleteRound(round).ok());
  round.completed_time = TestTime(50);  // a retried call: only the time differs
  EXPECT_TRUE(store_->CompleteRound(round).ok());
  round.metrics["reward"] = 0.6;
  absl::Status differs = store_->CompleteRound(round);
  EXPECT_EQ(differs.code(), absl::StatusCode::kAlreadyExists) << differs;
  absl::StatusOr<std::vector<RoundRecord>> rounds = store_->CompletedRounds(id);
  ASSERT_TRUE(rounds.ok());
  ASSERT_EQ(rounds->size(), 1u);
  EXPECT_EQ((*rounds)[0].metrics.at("reward"), 0.5);
  EXPECT_EQ(store_->CompleteRound({.job_id = "job-nope"}).code(), absl::StatusCode::kNotFound);
}

TEST_F(JobStoreTest, TheLastCompletedRoundFollowsIterationThenStageThenRound) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  absl::StatusOr<std::optional<RoundRecord>> none = store_->LastCompletedRound(id);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  for (RoundRecord round : {RoundRecord{.stage_index = 1, .iteration = 0, .round = 9},
                            RoundRecord{.stage_index = 0, .iteration = 1, .round = 3},
                            RoundRecord{.stage_index = 0, .iteration = 1, .round = 2},
                            RoundRecord{.stage_index = 1, .iteration = 0, .round = 10}}) {
    round.job_id = id;
    ASSERT_TRUE(store_->CompleteRound(round).ok());
  }
  absl::StatusOr<std::optional<RoundRecord>> last = store_->LastCompletedRound(id);
  ASSERT_TRUE(last.ok());
  ASSERT_TRUE(last->has_value());
  EXPECT_EQ((*last)->iteration, 1);
  EXPECT_EQ((*last)->stage_index, 0);
  EXPECT_EQ((*last)->round, 3);
  absl::StatusOr<std::vector<RoundRecord>> all = store_->CompletedRounds(id);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].round, 9);
  EXPECT_EQ((*all)[1].round, 10);
}

TEST_F(JobStoreTest, StagesAreRecordedAndReplaced) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  StageRecord stage{.job_id = id, .stage_index = 0, .name = "sft", .start_time = TestTime(1)};
  ASSERT_TRUE(store_->RecordStage(stage).ok());
  stage.end_time = TestTime(2);
  stage.output_checkpoint = "/out/sft";
  ASSERT_TRUE(store_->RecordStage(stage).ok());
  ASSERT_TRUE(store_
                  ->AppendEvent(id, {.event = Event(2),
                                     .stage = StageRecord{.stage_index = 1, .name = "ppo"}})
                  .ok());
  absl::StatusOr<std::vector<StageRecord>> stages = store_->Stages(id);
  ASSERT_TRUE(stages.ok());
  ASSERT_EQ(stages->size(), 2u);
  EXPECT_EQ((*stages)[0].end_time, TestTime(2));
  EXPECT_EQ((*stages)[0].output_checkpoint, "/out/sft");
  EXPECT_EQ((*stages)[1].name, "ppo");
  EXPECT_EQ((*stages)[1].end_time, absl::InfinitePast());
}

TEST_F(JobStoreTest, LeasesConflictAcrossJobsAndAreAllOrNothing) {
  const std::string a = Create(MakeJob("alice", 0)).job_id;
  const std::string b = Create(MakeJob("bob", 0)).job_id;
  ASSERT_TRUE(
      store_->AcquireLeases(a, {{.worker_id = "gen-1", .role = 1, .endpoint = "10.0.0.1:50051"}})
          .ok());
  absl::Status conflict =
      store_->AcquireLeases(b, {{.worker_id = "gen-2", .role = 1}, {.worker_id = "gen-1"}});
  EXPECT_EQ(conflict.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(conflict.message()), HasSubstr("gen-1"));
  EXPECT_THAT(std::string(conflict.message()), HasSubstr(a));
  absl::StatusOr<std::vector<LeaseRecord>> leases = store_->Leases();
  ASSERT_TRUE(leases.ok());
  ASSERT_EQ(leases->size(), 1u) << "gen-2 must not be leased by the refused call";
  EXPECT_EQ((*leases)[0].job_id, a);
  EXPECT_EQ((*leases)[0].endpoint, "10.0.0.1:50051");
  // Re-leasing a held worker to its own job is fine.
  EXPECT_TRUE(store_->AcquireLeases(a, {{.worker_id = "gen-1", .role = 1}}).ok());
  EXPECT_EQ(store_->AcquireLeases(a, {{.worker_id = "w"}, {.worker_id = "w"}}).code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<bool> released = store_->ReleaseLease(b, "gen-1");
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(*released) << "b does not hold gen-1";
  absl::StatusOr<int> all = store_->ReleaseLeases(a);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, 1);
  EXPECT_TRUE(store_->AcquireLeases(b, {{.worker_id = "gen-1"}, {.worker_id = "gen-2"}}).ok());
}

TEST_F(JobStoreTest, TheLatestCheckpointIsTheFurthestAndBecomesTheStatusCheckpoint) {
  const std::string id = Create(MakeJob("alice", 0)).job_id;
  ASSERT_TRUE(
      store_->AddCheckpoint({.job_id = id, .stage_index = 0, .round = 4, .path = "/c/s0-r4"}).ok());
  ASSERT_TRUE(
      store_->AddCheckpoint({.job_id = id, .stage_index = 1, .round = 0, .path = "/c/s1-r0"}).ok());
  ASSERT_TRUE(
      store_->AddCheckpoint({.job_id = id, .stage_index = 0, .round = 8, .path = "/c/s0-r8"}).ok());
  absl::StatusOr<std::optional<CheckpointRecord>> latest = store_->LatestCheckpoint(id);
  ASSERT_TRUE(latest.ok());
  ASSERT_TRUE(latest->has_value());
  EXPECT_EQ((*latest)->path, "/c/s1-r0");
  absl::StatusOr<JobRecord> job = store_->GetJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status.latest_checkpoint, "/c/s1-r0");
  // Through an event, with a status whose own latest_checkpoint the store overrides.
  JobStatusRecord status = job->status;
  status.latest_checkpoint = "/somewhere/else";
  ASSERT_TRUE(store_
                  ->AppendEvent(
                      id, {.event = Event(8, "/c/s1-r5"),
                           .status = status,
                           .checkpoint =
                               CheckpointRecord{.stage_index = 1, .round = 5, .path = "/c/s1-r5"}})
                  .ok());
  job = store_->GetJob(id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->status.latest_checkpoint, "/c/s1-r5");
}

}  // namespace
}  // namespace plumb::coordinator
