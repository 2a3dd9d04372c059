// Shared pieces of the JobStore tests: a scratch folder per test, and job records to store.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_TEST_UTIL_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "services/plumb-coordinator/job_records.h"
#include "services/plumb-coordinator/job_store.h"

namespace plumb::coordinator::testing {

// A new empty folder under the test temp dir, unique to this process and object; removed (with
// its contents) on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// Opens `path`, recording a test failure (and returning null) if that fails.
std::unique_ptr<JobStore> OpenStore(const std::string& path);

// A QUEUED job of `owner` created at `create_time` (a fixed 2024 time plus `minutes`).
JobRecord MakeJob(const std::string& owner, int minutes, const std::string& name = "job");
absl::Time TestTime(int minutes);

EventRecord Event(int type, const std::string& message = "");

// plumb.v1.JobEventType values the tests use.
inline constexpr int kStateChanged = 1;
inline constexpr int kRoundFinished = 5;
inline constexpr int kLog = 12;

// A store on a fresh file per test.
class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.File("state.db"));
    ASSERT_NE(store_, nullptr);
  }

  // Creates `job` with a STATE_CHANGED first event; fails the test on error.
  JobRecord Create(JobRecord job) {
    absl::StatusOr<JobStore::Created> created =
        store_->CreateJob(std::move(job), Event(kStateChanged, "queued"));
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? created->job : JobRecord{};
  }

  std::vector<std::string> Ids(const JobPage& page) {
    std::vector<std::string> ids;
    for (const JobRecord& job : page.jobs) ids.push_back(job.job_id);
    return ids;
  }

  ScratchDir dir_;
  std::unique_ptr<JobStore> store_;
};

}  // namespace plumb::coordinator::testing

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_JOB_STORE_TEST_UTIL_H_
