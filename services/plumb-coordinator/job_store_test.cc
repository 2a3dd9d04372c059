// JobStore on a real SQLite file: creating jobs (idempotently), reading, listing and paging them,
// and the bounds on what is stored.
#include "services/plumb-coordinator/job_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/plumb-coordinator/job_store_test_util.h"

namespace plumb::coordinator {
namespace {

using ::plumb::coordinator::testing::Event;
using ::plumb::coordinator::testing::JobStoreTest;
using ::plumb::coordinator::testing::kLog;
using ::plumb::coordinator::testing::kStateChanged;
using ::plumb::coordinator::testing::MakeJob;
using ::plumb::coordinator::testing::TestTime;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST_F(JobStoreTest, ACreatedJobReadsBackFieldForField) {
  JobRecord job = MakeJob("alice", 0, "ppo-run");
  job.job_id = "job-fixed";
  job.priority = -3;
  job.labels = {{"team", "rl"}, {"zone", "é"}};
  job.idempotency_key = "key-1";
  job.spec = std::string("\0\x01\xff binary", 10);
  job.deadline = TestTime(90);
  job.max_retries = 4;
  job.status.seed = std::numeric_limits<uint64_t>::max();
  job.status.policy_version = uint64_t{1} << 63;
  job.status.metrics = {{"loss", std::nan("")},
                        {"kl", -std::numeric_limits<double>::infinity()},
                        {"reward_mean", 0.25}};
  job.status.progress = 0.5;
  JobRecord created = Create(job);
  EXPECT_EQ(created.job_id, "job-fixed");

  absl::StatusOr<JobRecord> read = store_->GetJob("job-fixed");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->owner, "alice");
  EXPECT_EQ(read->name, "ppo-run");
  EXPECT_EQ(read->kind, 3);
  EXPECT_EQ(read->priority, -3);
  EXPECT_EQ(read->labels, job.labels);
  EXPECT_EQ(read->idempotency_key, "key-1");
  EXPECT_EQ(read->spec_hash, job.spec_hash);
  EXPECT_EQ(read->spec, job.spec);
  EXPECT_EQ(read->deadline, TestTime(90));
  EXPECT_EQ(read->max_retries, 4);
  EXPECT_EQ(read->status.state, JobState::kQueued);
  EXPECT_EQ(read->status.seed, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(read->status.policy_version, uint64_t{1} << 63);
  EXPECT_TRUE(std::isnan(read->status.metrics.at("loss")));
  EXPECT_EQ(read->status.metrics.at("kl"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(read->status.metrics.at("reward_mean"), 0.25);
  EXPECT_EQ(read->status.progress, 0.5);
  EXPECT_EQ(read->status.create_time, TestTime(0));
  EXPECT_EQ(read->status.update_time, TestTime(0));
  EXPECT_EQ(read->status.start_time, absl::InfinitePast());
  EXPECT_EQ(read->status.last_event_sequence, 1u);

  absl::StatusOr<JobRecord> without_spec = store_->GetJob("job-fixed", /*include_spec=*/false);
  ASSERT_TRUE(without_spec.ok());
  EXPECT_EQ(without_spec->spec, "");
  EXPECT_EQ(without_spec->deadline, TestTime(90));
}

TEST_F(JobStoreTest, CreateJobAssignsAnIdAndStoresTheFirstEventAsSequenceOne) {
  JobRecord job = Create(MakeJob("alice", 0));
  EXPECT_THAT(job.job_id, ::testing::StartsWith("job-"));
  EXPECT_EQ(job.status.last_event_sequence, 1u);
  absl::StatusOr<std::vector<EventRecord>> events = store_->EventsAfter(job.job_id, 0);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 1u);
  EXPECT_EQ((*events)[0].sequence, 1u);
  EXPECT_EQ((*events)[0].job_id, job.job_id);
  EXPECT_EQ((*events)[0].state, JobState::kQueued);
  EXPECT_EQ((*events)[0].message, "queued");
  EXPECT_EQ((*events)[0].time, TestTime(0));
  EXPECT_NE(Create(MakeJob("alice", 0)).job_id, job.job_id);
}

TEST_F(JobStoreTest, TheSameIdempotencyKeyAndSpecReturnTheExistingJob) {
  JobRecord job = MakeJob("alice", 0);
  job.idempotency_key = "submit-7";
  JobRecord first = Create(job);
  job.status.create_time = TestTime(5);
  absl::StatusOr<JobStore::Created> again = store_->CreateJob(job, Event(kStateChanged));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->job.job_id, first.job_id);
  EXPECT_EQ(again->job.status.create_time, TestTime(0));
  EXPECT_EQ(again->job.spec, job.spec);
  absl::StatusOr<int64_t> count = store_->CountJobsInStates({JobState::kQueued});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
  // Keys are per owner: bob's identical key is another job.
  job.owner = "bob";
  absl::StatusOr<JobStore::Created> bobs = store_->CreateJob(job, Event(kStateChanged));
  ASSERT_TRUE(bobs.ok()) << bobs.status();
  EXPECT_TRUE(bobs->created);
  EXPECT_NE(bobs->job.job_id, first.job_id);
}

TEST_F(JobStoreTest, TheSameIdempotencyKeyWithAnotherSpecIsAlreadyExists) {
  JobRecord job = MakeJob("alice", 0);
  job.idempotency_key = "submit-7";
  JobRecord first = Create(job);
  job.spec = "another spec";
  job.spec_hash = "another hash";
  absl::StatusOr<JobStore::Created> again = store_->CreateJob(job, Event(kStateChanged));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_THAT(std::string(again.status().message()), HasSubstr(first.job_id));
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("different spec"));
  absl::StatusOr<int64_t> count = store_->CountJobsInStates({JobState::kQueued});
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
}

TEST_F(JobStoreTest, AnUnknownJobIsNotFoundAndATakenIdIsAlreadyExists) {
  EXPECT_EQ(store_->GetJob("job-nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->EventsAfter("job-nope", 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->AppendEvent("job-nope", {.event = Event(kLog)}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetJob(std::string(5000, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
  JobRecord job = MakeJob("alice", 0);
  job.job_id = "job-a";
  Create(job);
  EXPECT_EQ(store_->CreateJob(job, Event(kStateChanged)).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(JobStoreTest, ListJobsIsNewestFirstAndFiltersByOwnerStateKindAndLabels) {
  JobRecord a = MakeJob("alice", 1, "a");
  a.labels = {{"team", "rl"}, {"size", "small"}};
  JobRecord b = MakeJob("bob", 2, "b");
  b.labels = {{"team", "rl"}};
  b.kind = 8;  // DPO
  JobRecord c = MakeJob("alice", 3, "c");
  c.labels = {{"team", "eval"}};
  const std::string a_id = Create(a).job_id;
  const std::string b_id = Create(b).job_id;
  const std::string c_id = Create(c).job_id;
  JobStatusRecord running;
  running.state = JobState::kRunning;
  ASSERT_TRUE(store_->AppendEvent(c_id, {.event = Event(kStateChanged), .status = running}).ok());

  auto list = [&](const JobFilter& filter) {
    absl::StatusOr<JobPage> page = store_->ListJobs(filter, 0, "");
    EXPECT_TRUE(page.ok()) << page.status();
    return page.ok() ? Ids(*page) : std::vector<std::string>{};
  };
  EXPECT_THAT(list({}), ElementsAre(c_id, b_id, a_id));
  EXPECT_THAT(list({.owner = "alice"}), ElementsAre(c_id, a_id));
  EXPECT_THAT(list({.owner = "carol"}), ElementsAre());
  EXPECT_THAT(list({.states = {JobState::kQueued}}), ElementsAre(b_id, a_id));
  EXPECT_THAT(list({.states = {JobState::kRunning, JobState::kFailed}}), ElementsAre(c_id));
  EXPECT_THAT(list({.kind = 8}), ElementsAre(b_id));
  EXPECT_THAT(list({.labels = {{"team", "rl"}}}), ElementsAre(b_id, a_id));
  EXPECT_THAT(list({.labels = {{"team", "rl"}, {"size", "small"}}}), ElementsAre(a_id));
  EXPECT_THAT(list({.labels = {{"team", "RL"}}}), ElementsAre());
  EXPECT_THAT(list({.owner = "alice", .labels = {{"team", "rl"}}}), ElementsAre(a_id));

  absl::StatusOr<JobPage> page = store_->ListJobs({}, 0, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->jobs[0].spec, "") << "specs only on request";
  absl::StatusOr<JobPage> with_spec = store_->ListJobs({}, 0, "", /*include_spec=*/true);
  ASSERT_TRUE(with_spec.ok());
  EXPECT_EQ(with_spec->jobs[0].spec, "spec of c");
}

TEST_F(JobStoreTest, PagesCoverEveryJobOnceAndNewJobsDoNotShiftThem) {
  std::vector<std::string> created;
  for (int i = 0; i < 7; ++i) created.push_back(Create(MakeJob("alice", i % 3)).job_id);
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<JobPage> page = store_->ListJobs({.owner = "alice"}, 3, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->jobs.size(), 3u);
    for (const JobRecord& job : page->jobs) seen.push_back(job.job_id);
    token = page->next_page_token;
    if (++pages == 1) Create(MakeJob("alice", 100));  // newer than every listed job
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()),
            std::set<std::string>(created.begin(), created.end()));
}

TEST_F(JobStoreTest, APageTokenFromAnotherFilterOrAMalformedOneIsInvalidArgument) {
  for (int i = 0; i < 3; ++i) Create(MakeJob("alice", i));
  absl::StatusOr<JobPage> page =
      store_->ListJobs({.owner = "alice", .states = {JobState::kQueued}}, 1, "");
  ASSERT_TRUE(page.ok());
  ASSERT_FALSE(page->next_page_token.empty());
  const std::string token = page->next_page_token;
  // The same filter, states given in another order and repeated: the same filter.
  EXPECT_TRUE(
      store_
          ->ListJobs({.owner = "alice", .states = {JobState::kQueued, JobState::kQueued}}, 1, token)
          .ok());
  for (const JobFilter& other :
       {JobFilter{}, JobFilter{.owner = "bob", .states = {JobState::kQueued}},
        JobFilter{.owner = "alice"},
        JobFilter{.owner = "alice", .states = {JobState::kQueued}, .labels = {{"team", "rl"}}}}) {
    absl::StatusOr<JobPage> reused = store_->ListJobs(other, 1, token);
    EXPECT_EQ(reused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(reused.status().message()), HasSubstr("different filter"));
  }
  for (const std::string& bad : {std::string("garbage!"), std::string("UEox"), token.substr(0, 10),
                                 std::string(5000, 'A')}) {
    absl::StatusOr<JobPage> malformed = store_->ListJobs({.owner = "alice"}, 1, bad);
    EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(JobStoreTest, PageSizeZeroMeansFiftyLargeOnesAreCappedAndNegativeIsInvalid) {
  for (int i = 0; i < 52; ++i) Create(MakeJob("alice", i));
  absl::StatusOr<JobPage> page = store_->ListJobs({}, 0, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->jobs.size(), 50u);
  EXPECT_FALSE(page->next_page_token.empty());
  page = store_->ListJobs({}, 1 << 30, "");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->jobs.size(), 52u);
  EXPECT_TRUE(page->next_page_token.empty());
  EXPECT_EQ(store_->ListJobs({}, -1, "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobStoreTest, JobsInStatesFindsTheJobsToRecoverOldestFirst) {
  const std::string a = Create(MakeJob("alice", 2)).job_id;
  const std::string b = Create(MakeJob("bob", 1)).job_id;
  const std::string c = Create(MakeJob("bob", 3)).job_id;
  JobStatusRecord status;
  status.state = JobState::kRunning;
  ASSERT_TRUE(store_->AppendEvent(a, {.event = Event(kStateChanged), .status = status}).ok());
  status.state = JobState::kSucceeded;
  ASSERT_TRUE(store_->AppendEvent(c, {.event = Event(kStateChanged), .status = status}).ok());
  absl::StatusOr<std::vector<JobRecord>> live =
      store_->JobsInStates({JobState::kQueued, JobState::kRunning});
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->size(), 2u);
  EXPECT_EQ((*live)[0].job_id, b);
  EXPECT_EQ((*live)[1].job_id, a);
  EXPECT_EQ((*live)[1].spec, "spec of job");
  absl::StatusOr<int64_t> running = store_->CountJobsInStates({JobState::kRunning});
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(*running, 1);
  EXPECT_EQ(store_->CountJobsInStates({static_cast<JobState>(9)}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(JobStoreTest, OversizedFieldsAreInvalidArgumentsNamingTheFieldAndLongTextIsCut) {
  JobRecord job = MakeJob("alice", 0);
  job.labels["k"] = std::string(kMaxLabelValueBytes + 1, 'v');
  absl::StatusOr<JobStore::Created> created = store_->CreateJob(job, Event(kStateChanged));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("job.labels"));
  job = MakeJob("alice", 0);
  job.labels["bad"] = "\xff\xfe";
  created = store_->CreateJob(job, Event(kStateChanged));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(created.status().message()), HasSubstr("UTF-8"));
  job = MakeJob("", 0);
  EXPECT_EQ(store_->CreateJob(job, Event(kStateChanged)).status().code(),
            absl::StatusCode::kInvalidArgument);
  job = MakeJob("alice", 0);
  job.status.state = JobState::kSucceeded;
  EXPECT_EQ(store_->CreateJob(job, Event(kStateChanged)).status().code(),
            absl::StatusCode::kInvalidArgument);

  const std::string id = Create(MakeJob("alice", 0)).job_id;
  EventRecord event = Event(kLog);
  event.stage_name = std::string(kMaxStageNameBytes + 1, 's');
  absl::StatusOr<EventRecord> stored = store_->AppendEvent(id, {.event = event});
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(stored.status().message()), HasSubstr("event.stage_name"));
  event = Event(kLog);
  for (int i = 0; i <= static_cast<int>(kMaxMetrics); ++i) event.metrics[absl::StrCat("m", i)] = i;
  stored = store_->AppendEvent(id, {.event = event});
  EXPECT_THAT(std::string(stored.status().message()), HasSubstr("event.metrics"));
  // A long message (a worker's error text, say) is cut, on a UTF-8 boundary, not refused.
  event = Event(kLog, std::string(kMaxFreeTextBytes - 4, 'x') + "ééé");
  stored = store_->AppendEvent(id, {.event = event});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_LE(stored->message.size(), kMaxFreeTextBytes);
  EXPECT_THAT(stored->message, ::testing::EndsWith("x..."));
}

}  // namespace
}  // namespace plumb::coordinator
