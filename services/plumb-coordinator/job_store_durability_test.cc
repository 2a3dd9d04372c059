// A coordinator killed with SIGKILL while writing: a child process writes jobs, events, rounds
// and checkpoints as fast as it can and reports each write after it returns; the parent kills it
// mid-stream, reopens the file and finds every reported write and no partial one (each job's
// status, events, rounds and checkpoints agree; specs are whole).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/job_store_test_util.h"

namespace plumb::coordinator {
namespace {

using ::plumb::coordinator::testing::Event;
using ::plumb::coordinator::testing::MakeJob;
using ::plumb::coordinator::testing::OpenStore;
using ::plumb::coordinator::testing::ScratchDir;

constexpr int kRoundFinished = 5;
constexpr int kRoundsPerJob = 4;
constexpr int kReportsBeforeKill = 40;
constexpr size_t kSpecBytes = 64 << 10;  // spans many pages, so a torn write would show

// One write the child finished: a job created (round = -1) or a round completed.
struct Report {
  int32_t job = 0;
  int32_t round = 0;
};

std::string JobId(int job) { return absl::StrCat("job-", job); }
std::string Spec(int job) { return std::string(kSpecBytes, static_cast<char>('A' + job % 26)); }

// The child: writes jobs first_job, first_job + 1, ... until killed, reporting each write once
// it has returned OK.
[[noreturn]] void WriteUntilKilled(const std::string& path, int first_job, int report_fd) {
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path);
  if (!store.ok()) _exit(2);
  auto report = [&](int job, int round) {
    const Report line{job, round};
    if (write(report_fd, &line, sizeof(line)) != sizeof(line)) _exit(3);
  };
  for (int job = first_job; job < first_job + 100000; ++job) {
    JobRecord record = MakeJob("alice", job);
    record.job_id = JobId(job);
    record.spec = Spec(job);
    if (!(*store)->CreateJob(record, Event(1, "queued")).ok()) _exit(4);
    report(job, -1);
    for (int round = 0; round < kRoundsPerJob; ++round) {
      JobStatusRecord status;
      status.state = JobState::kRunning;
      status.round = round;
      status.retries = round;
      JobUpdate update{.event = Event(kRoundFinished, absl::StrCat("round ", round)),
                       .status = status,
                       .round = RoundRecord{.round = round, .policy_version = uint64_t(round)}};
      update.event.round = round;
      if (round % 2 == 1) {
        update.checkpoint = CheckpointRecord{.round = round, .path = absl::StrCat("/c/", round)};
      }
      if (!(*store)->AppendEvent(record.job_id, std::move(update)).ok()) _exit(5);
      report(job, round);
    }
  }
  _exit(0);
}

// Starts a writer child, lets it report kReportsBeforeKill writes, waits `delay` (so the kill
// lands at different points of a write) and kills it. Returns every write it reported.
std::vector<Report> KillMidStream(const std::string& path, int first_job, absl::Duration delay) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    WriteUntilKilled(path, first_job, fds[1]);
  }
  close(fds[1]);
  std::vector<Report> reports;
  Report line;
  while (reports.size() < kReportsBeforeKill && read(fds[0], &line, sizeof(line)) == sizeof(line)) {
    reports.push_back(line);
  }
  EXPECT_EQ(reports.size(), static_cast<size_t>(kReportsBeforeKill)) << "the child stopped early";
  absl::SleepFor(delay);
  EXPECT_EQ(kill(child, SIGKILL), 0);
  int wait_status = 0;
  EXPECT_EQ(waitpid(child, &wait_status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL);
  // Writes reported between the parent's last read and the kill were committed too.
  while (read(fds[0], &line, sizeof(line)) == sizeof(line)) reports.push_back(line);
  close(fds[0]);
  return reports;
}

// Every stored job is whole: its spec complete, its events contiguous, and its status, events,
// rounds and checkpoints in agreement.
void ExpectWhole(JobStore& store, const JobRecord& job) {
  SCOPED_TRACE(job.job_id);
  const int index = std::stoi(job.job_id.substr(4));
  EXPECT_TRUE(job.spec == Spec(index)) << "spec torn: " << job.spec.size() << " bytes";
  absl::StatusOr<std::vector<EventRecord>> events = store.EventsAfter(job.job_id, 0);
  absl::StatusOr<std::vector<RoundRecord>> rounds = store.CompletedRounds(job.job_id);
  ASSERT_TRUE(events.ok() && rounds.ok());
  ASSERT_EQ(events->size(), job.status.last_event_sequence);
  for (size_t i = 0; i < events->size(); ++i) EXPECT_EQ((*events)[i].sequence, i + 1);
  // Event 1 created the job; each later event completed round (sequence - 2).
  ASSERT_EQ(rounds->size(), events->size() - 1);
  for (size_t r = 0; r < rounds->size(); ++r) {
    EXPECT_EQ((*rounds)[r].round, static_cast<int>(r));
    EXPECT_EQ((*events)[r + 1].round, static_cast<int>(r));
  }
  if (!rounds->empty()) {
    EXPECT_EQ(job.status.round, rounds->back().round);
    EXPECT_EQ(job.status.retries, rounds->back().round);
    EXPECT_EQ(job.status.state, JobState::kRunning);
  } else {
    EXPECT_EQ(job.status.state, JobState::kQueued);
  }
  const int last_odd_round = rounds->size() >= 4 ? 3 : rounds->size() >= 2 ? 1 : -1;
  absl::StatusOr<std::optional<CheckpointRecord>> checkpoint = store.LatestCheckpoint(job.job_id);
  ASSERT_TRUE(checkpoint.ok());
  EXPECT_EQ(checkpoint->has_value(), last_odd_round >= 0);
  EXPECT_EQ(job.status.latest_checkpoint,
            last_odd_round >= 0 ? absl::StrCat("/c/", last_odd_round) : "");
}

TEST(JobStoreDurabilityTest, EveryCommittedWriteSurvivesSigkillAndNoPartialOneAppears) {
  ScratchDir dir;
  const std::string path = dir.File("state.db");
  // Several kills, each at another delay after the last report, into the same file: each
  // restart recovers from the log the previous kill left.
  const int delays_ms[] = {0, 1, 2, 3, 5, 8};
  std::map<int, int> last_reported_round;  // job -> last round reported (-1: only created)
  for (int cycle = 0; cycle < 6; ++cycle) {
    SCOPED_TRACE(absl::StrCat("kill ", cycle));
    const int first_job = cycle * 1000;
    for (const Report& report :
         KillMidStream(path, first_job, absl::Milliseconds(delays_ms[cycle]))) {
      last_reported_round[report.job] = report.round;
    }
    // The killed process left its write-ahead log behind: reopening must recover from it.
    EXPECT_TRUE(std::filesystem::exists(path + "-wal"));

    std::unique_ptr<JobStore> store = OpenStore(path);
    ASSERT_NE(store, nullptr);
    // Every reported write is there.
    for (const auto& [job, round] : last_reported_round) {
      absl::StatusOr<JobRecord> record = store->GetJob(JobId(job));
      ASSERT_TRUE(record.ok()) << "reported job " << job << " lost: " << record.status();
      if (round < 0) continue;
      absl::StatusOr<std::optional<RoundRecord>> last = store->LastCompletedRound(JobId(job));
      ASSERT_TRUE(last.ok());
      ASSERT_TRUE(last->has_value()) << "job " << job;
      EXPECT_GE((*last)->round, round) << "reported round lost, job " << job;
    }
    absl::StatusOr<JobPage> page = store->ListJobs({}, 500, "", /*include_spec=*/true);
    ASSERT_TRUE(page.ok()) << page.status();
    ASSERT_GE(page->jobs.size(), last_reported_round.size());
    EXPECT_LE(page->jobs.size(), last_reported_round.size() + 1) << "at most one unreported job";
    for (const JobRecord& job : page->jobs) {
      ExpectWhole(*store, job);
      // A job committed but not reported before the kill is known from now on.
      last_reported_round.try_emplace(std::stoi(job.job_id.substr(4)), -1);
    }
    if (cycle + 1 < 6) continue;
    // The recovered store takes new writes where the old one stopped.
    const JobRecord& newest = page->jobs.front();
    absl::StatusOr<EventRecord> next = store->AppendEvent(newest.job_id, {.event = Event(12)});
    ASSERT_TRUE(next.ok()) << next.status();
    EXPECT_EQ(next->sequence, newest.status.last_event_sequence + 1);
  }
}

}  // namespace
}  // namespace plumb::coordinator
