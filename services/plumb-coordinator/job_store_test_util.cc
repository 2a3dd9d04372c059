#include "services/plumb-coordinator/job_store_test_util.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "absl/strings/str_cat.h"

namespace plumb::coordinator::testing {

ScratchDir::ScratchDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::path(::testing::TempDir()) /
          absl::StrCat("job_store_test_", getpid(), "_", counter++);
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
  // Tests may drop privileges to check permission errors; let them reach this folder.
  chmod(path_.c_str(), 0755);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ignored);
  std::filesystem::remove_all(path_, ignored);
}

std::unique_ptr<JobStore> OpenStore(const std::string& path) {
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  return *std::move(store);
}

absl::Time TestTime(int minutes) {
  return absl::FromUnixSeconds(1704067200) + absl::Minutes(minutes);  // 2024-01-01 UTC
}

JobRecord MakeJob(const std::string& owner, int minutes, const std::string& name) {
  JobRecord job;
  job.owner = owner;
  job.name = name;
  job.kind = 3;  // JOB_KIND_PPO
  job.spec = absl::StrCat("spec of ", name);
  job.spec_hash = absl::StrCat("hash of ", name);
  job.status.state = JobState::kQueued;
  job.status.create_time = TestTime(minutes);
  return job;
}

EventRecord Event(int type, const std::string& message) {
  EventRecord event;
  event.type = type;
  event.message = message;
  return event;
}

}  // namespace plumb::coordinator::testing
