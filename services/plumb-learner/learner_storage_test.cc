// Storage: client paths stay inside the configured roots (symbolic links and ".." included),
// over-long or odd names are refused rather than thrown, and checkpoint writes are atomic and
// replace only the learner's own checkpoints.
#include "services/plumb-learner/learner_storage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace plumb::learner {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::path(::testing::TempDir()) / absl::StrCat("learner_storage_test_", getpid());
    fs::remove_all(base_);
    fs::create_directories(base_ / "checkpoints");
    fs::create_directories(base_ / "models" / "policy");
    fs::create_directories(base_ / "outside");
    std::ofstream(base_ / "outside" / "secret") << "keep me\n";
    absl::StatusOr<Storage> storage =
        Storage::Create({.checkpoint_root = (base_ / "checkpoints").string(),
                         .model_roots = {(base_ / "models").string()}});
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_.emplace(*std::move(storage));
  }
  void TearDown() override { fs::remove_all(base_); }

  static absl::Status WriteFile(const fs::path& dir, const std::string& name,
                                const std::string& text) {
    std::ofstream(dir / name) << text;
    return absl::OkStatus();
  }
  static std::string Read(const fs::path& file) {
    std::ifstream in(file);
    std::string text;
    std::getline(in, text);
    return text;
  }

  fs::path base_;
  std::optional<Storage> storage_;
};

TEST_F(StorageTest, CheckpointPathsOutsideTheRootAreRefused) {
  fs::create_symlink(base_ / "outside", base_ / "checkpoints" / "link");
  for (const std::string& path :
       {std::string("/etc"), std::string("../outside"), std::string("a/../../outside"),
        (base_ / "outside").string(), std::string("link"), std::string("link/inner"),
        std::string("."), (base_ / "checkpoints").string()}) {
    SCOPED_TRACE(path);
    absl::StatusOr<fs::path> resolved = storage_->CheckpointFolder(path);
    EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument) << resolved.status();
    EXPECT_THAT(std::string(resolved.status().message()),
                HasSubstr("is not a folder inside the learner's checkpoint root"));
  }
  absl::StatusOr<fs::path> inside = storage_->CheckpointFolder("run/step-1");
  ASSERT_TRUE(inside.ok()) << inside.status();
  EXPECT_EQ(*inside, fs::weakly_canonical(base_ / "checkpoints" / "run" / "step-1"));
  absl::StatusOr<fs::path> absolute =
      storage_->CheckpointFolder((base_ / "checkpoints" / "x" / ".." / "y").string());
  ASSERT_TRUE(absolute.ok()) << absolute.status();
  EXPECT_EQ(absolute->filename(), "y");
}

TEST_F(StorageTest, OverLongNamesAndControlCharactersAreInvalidArgumentsNotExceptions) {
  const std::string long_name(5000, 'a');
  absl::StatusOr<fs::path> too_long = storage_->CheckpointFolder(long_name);
  EXPECT_EQ(too_long.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_long.status().message()), HasSubstr("5000 bytes; at most 4096"));
  EXPECT_LT(too_long.status().message().size(), 400u) << "the name is echoed whole";
  absl::StatusOr<fs::path> long_component = storage_->CheckpointFolder(std::string(300, 'b'));
  EXPECT_EQ(long_component.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(long_component.status().message()), HasSubstr("at most 255"));
  for (const std::string& odd : {std::string("a\nb"), std::string("a\0b", 3), std::string()}) {
    EXPECT_EQ(storage_->CheckpointFolder(odd).status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(StorageTest, ModelFoldersComeFromTheModelRootsOrTheCheckpointRoot) {
  absl::StatusOr<fs::path> relative = storage_->ModelFolder("policy", "policy_checkpoint");
  ASSERT_TRUE(relative.ok()) << relative.status();
  EXPECT_EQ(*relative, fs::weakly_canonical(base_ / "models" / "policy"));
  fs::create_directories(base_ / "checkpoints" / "saved");
  absl::StatusOr<fs::path> saved = storage_->ModelFolder("saved", "policy_checkpoint");
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(*saved, fs::weakly_canonical(base_ / "checkpoints" / "saved"));
  EXPECT_TRUE(
      storage_->ModelFolder((base_ / "models" / "policy").string(), "policy_checkpoint").ok());
  for (const std::string& path :
       {(base_ / "outside").string(), std::string("../outside"), std::string("/")}) {
    SCOPED_TRACE(path);
    absl::StatusOr<fs::path> refused = storage_->ModelFolder(path, "value_checkpoint");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("value_checkpoint: "));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(path));
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr("learner.model_roots"));
  }
  EXPECT_EQ(storage_->ModelFolder("missing", "policy_checkpoint").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StorageTest, OverwriteReplacesOnlyTheLearnersOwnCheckpoints) {
  // A folder the learner did not write is never replaced (it was deleted recursively before).
  const fs::path foreign = base_ / "checkpoints" / "foreign";
  fs::create_directories(foreign);
  std::ofstream(foreign / "data") << "precious\n";
  absl::Status refused = storage_->WriteCheckpoint(
      foreign, true, [](const fs::path& d) { return WriteFile(d, "w", "new"); });
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("is not a learner checkpoint"));
  EXPECT_EQ(Read(foreign / "data"), "precious");

  const fs::path dir = *storage_->CheckpointFolder("run/ckpt");
  ASSERT_TRUE(storage_
                  ->WriteCheckpoint(dir, false,
                                    [](const fs::path& d) { return WriteFile(d, "w", "first"); })
                  .ok());
  EXPECT_EQ(Read(dir / "w"), "first");
  EXPECT_TRUE(fs::exists(dir / kCheckpointMarker));
  EXPECT_EQ(storage_
                ->WriteCheckpoint(dir, false,
                                  [](const fs::path& d) { return WriteFile(d, "w", "second"); })
                .code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(storage_
                  ->WriteCheckpoint(dir, true,
                                    [](const fs::path& d) { return WriteFile(d, "w", "second"); })
                  .ok());
  EXPECT_EQ(Read(dir / "w"), "second");
  // Nothing but the checkpoint is left in its folder: no temporary or old copies.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.parent_path())) {
    EXPECT_EQ(entry.path().filename(), "ckpt");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(StorageTest, AFailedOverwriteLeavesTheOldCheckpointWhole) {
  const fs::path dir = *storage_->CheckpointFolder("ckpt");
  ASSERT_TRUE(
      storage_
          ->WriteCheckpoint(dir, false, [](const fs::path& d) { return WriteFile(d, "w", "old"); })
          .ok());
  absl::Status failed = storage_->WriteCheckpoint(dir, true, [](const fs::path& d) {
    std::ofstream(d / "w") << "half\n";
    return absl::ResourceExhaustedError("disk full");
  });
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Read(dir / "w"), "old");
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.parent_path())) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "the temporary folder was left behind";
}

}  // namespace
}  // namespace plumb::learner
