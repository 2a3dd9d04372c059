// Where a learner may read and write on its host. Every path a client names (a checkpoint to
// save or load, a policy or critic to start from) is resolved inside configured roots:
//   checkpoint_root   SaveCheckpoint and LoadCheckpoint; also readable by StartSession
//   model_roots       further folders StartSession may read policy_checkpoint and
//                     value_checkpoint from (e.g. where Hugging Face models are kept)
// A client path is relative to a root or absolute inside one; it is resolved with
// weakly_canonical (symbolic links followed, ".." folded) and refused (INVALID_ARGUMENT) when the
// result lies outside every allowed root, is too long, or holds control characters.
//
// Writing is atomic and never deletes what the learner did not write: a checkpoint is written
// into a fresh temporary sibling folder and renamed into place; an existing folder is replaced
// (overwrite) only when it holds the learner's marker file, and only after the new one is
// complete (old renamed away, new renamed in, old deleted).
//
// Thread safety: immutable after Create; safe from any thread.
#ifndef PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_STORAGE_H_
#define PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_STORAGE_H_

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace plumb::learner {

struct StorageOptions {
  // "" = "checkpoints" under the working directory. Created on the first save.
  std::string checkpoint_root;
  std::vector<std::string> model_roots;
};

// The file that marks a folder as a learner checkpoint (the only kind SaveCheckpoint replaces).
inline constexpr char kCheckpointMarker[] = "plumb_learner_checkpoint";

class Storage {
 public:
  // INVALID_ARGUMENT for an empty model root or a root that cannot be resolved.
  static absl::StatusOr<Storage> Create(const StorageOptions& options);

  // A model folder StartSession may read (`field` names the request field in errors). A relative
  // path is looked up under the checkpoint root, then each model root, and the first that exists
  // wins.
  absl::StatusOr<std::filesystem::path> ModelFolder(const std::string& path,
                                                    const std::string& field) const;
  // A checkpoint folder inside the checkpoint root (not the root itself).
  absl::StatusOr<std::filesystem::path> CheckpointFolder(const std::string& path) const;

  // Writes the checkpoint folder `dir` (from CheckpointFolder) by calling `write` on an empty
  // temporary folder, adding the marker, and renaming it into place. ALREADY_EXISTS when `dir`
  // exists and !overwrite; FAILED_PRECONDITION when it exists but is not a learner checkpoint.
  // On failure `dir` is as before and the temporary folder is gone.
  absl::Status WriteCheckpoint(
      const std::filesystem::path& dir, bool overwrite,
      const std::function<absl::Status(const std::filesystem::path&)>& write) const;

  const std::filesystem::path& checkpoint_root() const { return checkpoint_root_; }
  const std::vector<std::filesystem::path>& model_roots() const { return model_roots_; }

 private:
  Storage(std::filesystem::path checkpoint_root, std::vector<std::filesystem::path> model_roots);

  std::filesystem::path checkpoint_root_;
  std::vector<std::filesystem::path> model_roots_;
};

}  // namespace plumb::learner

#endif  // PLUMB_SERVICES_PLUMB_LEARNER_LEARNER_STORAGE_H_
