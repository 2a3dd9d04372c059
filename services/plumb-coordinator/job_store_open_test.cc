// JobStore::Open at start-up: a new file gets the schema in WAL mode; every unusable file or
// location is refused with an error that names the path and says what to do, and leaves the
// file as it was.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/job_store_test_util.h"

namespace plumb::coordinator {
namespace {

using ::plumb::coordinator::testing::Event;
using ::plumb::coordinator::testing::MakeJob;
using ::plumb::coordinator::testing::OpenStore;
using ::plumb::coordinator::testing::ScratchDir;
using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Runs raw SQL on `path` with SQLite itself, outside the store (to forge other files).
void RawSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

std::string RawPragma(const std::string& path, const std::string& pragma) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  std::string value;
  if (sqlite3_prepare_v2(db, absl::StrCat("PRAGMA ", pragma).c_str(), -1, &stmt, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

// The Status of JobStore::Open(path) as an unprivileged user: run in a child process that drops
// to user and group 65534 (nobody) first when this test runs as root, who may write anywhere.
absl::Status OpenAsUnprivileged(const std::string& path) {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe");
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    if (geteuid() == 0 &&
        (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
      _exit(2);
    }
    absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path);
    const std::string reply =
        absl::StrCat(static_cast<int>(store.status().code()), " ", store.status().message());
    if (write(fds[1], reply.data(), reply.size()) < 0) _exit(3);
    _exit(0);
  }
  close(fds[1]);
  std::string reply;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) reply.append(buffer, n);
  close(fds[0]);
  int wait_status = 0;
  waitpid(child, &wait_status, 0);
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0 || reply.empty()) {
    return absl::InternalError(absl::StrCat("child failed: ", wait_status));
  }
  const size_t space = reply.find(' ');
  return absl::Status(static_cast<absl::StatusCode>(std::stoi(reply.substr(0, space))),
                      reply.substr(space + 1));
}

// Every start-up error names the file and tells the operator what to do.
void ExpectStartupError(const absl::Status& status, absl::StatusCode code, const std::string& path,
                        const std::string& what) {
  EXPECT_EQ(status.code(), code) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(path));
  EXPECT_THAT(std::string(status.message()), HasSubstr(what));
}

TEST(JobStoreOpenTest, ANewFileGetsTheSchemaInWalModeAndReopensWithItsJobs) {
  ScratchDir dir;
  const std::string path = dir.File("state.db");
  std::string id;
  {
    std::unique_ptr<JobStore> store = OpenStore(path);
    ASSERT_NE(store, nullptr);
    absl::StatusOr<JobStore::Created> created =
        store->CreateJob(MakeJob("alice", 0), Event(1, "queued"));
    ASSERT_TRUE(created.ok()) << created.status();
    id = created->job.job_id;
  }
  EXPECT_EQ(RawPragma(path, "journal_mode"), "wal");
  EXPECT_EQ(RawPragma(path, "user_version"), "1");
  EXPECT_EQ(RawPragma(path, "application_id"), std::to_string(0x506c6d62));
  std::unique_ptr<JobStore> reopened = OpenStore(path);
  ASSERT_NE(reopened, nullptr);
  absl::StatusOr<JobRecord> job = reopened->GetJob(id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->owner, "alice");
}

TEST(JobStoreOpenTest, GarbageBytesAreNotAPlumbDatabaseAndAreLeftAlone) {
  ScratchDir dir;
  const std::string path = dir.File("state.db");
  std::mt19937 random(7);
  std::string garbage(8192, '\0');
  for (char& c : garbage) c = static_cast<char>(random());
  WriteAll(path, garbage);
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path);
  ExpectStartupError(store.status(), absl::StatusCode::kFailedPrecondition, path,
                     "is not a Plumb coordinator database");
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("move it aside"));
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("coordinator.state_path"));
  EXPECT_EQ(ReadAll(path), garbage);
}

TEST(JobStoreOpenTest, ADamagedDatabaseIsDataLoss) {
  ScratchDir dir;
  const std::string path = dir.File("state.db");
  {
    std::unique_ptr<JobStore> store = OpenStore(path);
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 12; ++i) {
      JobRecord job = MakeJob("alice", i);
      job.spec = std::string(8000, static_cast<char>('a' + i));
      ASSERT_TRUE(store->CreateJob(job, Event(1)).ok());
    }
  }  // closing the last connection folds the WAL into the file
  std::string bytes = ReadAll(path);
  ASSERT_GT(bytes.size(), 8 * 4096u);
  // Keep page 1 (header and schema); scribble over every table page after it.
  std::mt19937 random(11);
  for (size_t i = 4096; i < bytes.size(); ++i) bytes[i] = static_cast<char>(random());
  WriteAll(path, bytes);
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path);
  ExpectStartupError(store.status(), absl::StatusCode::kDataLoss, path, "is corrupt");
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("restore it from a backup"));
}

TEST(JobStoreOpenTest, ADatabaseFromANewerPlumbIsRefused) {
  ScratchDir dir;
  const std::string path = dir.File("state.db");
  ASSERT_NE(OpenStore(path), nullptr);
  RawSql(path, "PRAGMA user_version = 2");
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path);
  ExpectStartupError(store.status(), absl::StatusCode::kFailedPrecondition, path,
                     "schema version 2, written by a newer Plumb");
  EXPECT_EQ(RawPragma(path, "user_version"), "2");
}

TEST(JobStoreOpenTest, AnotherProgramsSqliteDatabaseIsRefusedAndLeftAlone) {
  ScratchDir dir;
  const std::string path = dir.File("other.db");
  RawSql(path, "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine')");
  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(path);
  ExpectStartupError(store.status(), absl::StatusCode::kFailedPrecondition, path,
                     "another program");
  EXPECT_EQ(RawPragma(path, "user_version"), "0");
  EXPECT_EQ(RawPragma(path, "journal_mode"), "delete");
}

TEST(JobStoreOpenTest, ADirectoryAMissingFolderAndSpecialNamesAreRefused) {
  ScratchDir dir;
  ExpectStartupError(JobStore::Open(dir.path().string()).status(),
                     absl::StatusCode::kFailedPrecondition, dir.path().string(), "is a directory");
  const std::string missing = dir.File("no/such/folder/state.db");
  ExpectStartupError(JobStore::Open(missing).status(), absl::StatusCode::kFailedPrecondition,
                     missing, "does not exist: create it");
  EXPECT_EQ(JobStore::Open(":memory:").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobStore::Open("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JobStore::Open(std::string(5000, 'a')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(JobStoreOpenTest, AnUnwritableFolderIsPermissionDenied) {
  ScratchDir dir;
  const std::filesystem::path locked = dir.path() / "locked";
  std::filesystem::create_directory(locked);
  chmod(locked.c_str(), 0555);
  const std::string path = (locked / "state.db").string();
  ExpectStartupError(OpenAsUnprivileged(path), absl::StatusCode::kPermissionDenied, path,
                     "cannot be written");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(JobStoreOpenTest, AReadOnlyDatabaseIsPermissionDenied) {
  ScratchDir dir;
  const std::string path = dir.File("state.db");
  ASSERT_NE(OpenStore(path), nullptr);
  chmod(path.c_str(), 0444);
  ExpectStartupError(OpenAsUnprivileged(path), absl::StatusCode::kPermissionDenied, path,
                     "cannot be written");
}

TEST(JobStoreOpenTest, ASecondStoreOnTheSameFileIsRefusedUntilTheFirstCloses) {
  ScratchDir dir;
  const std::string path = dir.File("state.db");
  std::unique_ptr<JobStore> first = OpenStore(path);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<JobStore>> second = JobStore::Open(path);
  ExpectStartupError(second.status(), absl::StatusCode::kFailedPrecondition, path,
                     "in use by another coordinator process");
  EXPECT_TRUE(first->CreateJob(MakeJob("alice", 0), Event(1)).ok())
      << "the refused open must not disturb the first store";
  first.reset();
  EXPECT_NE(OpenStore(path), nullptr);
}

}  // namespace
}  // namespace plumb::coordinator
