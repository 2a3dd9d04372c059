#include "services/plumb-learner/learner_storage.h"

#include <fstream>
#include <random>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/api/learner_limits.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::learner {
namespace {

namespace fs = std::filesystem;

// A path a client sent, before the filesystem sees it: 1..kMaxPathBytes bytes, no control
// characters, no component longer than a filesystem allows (such a name made std::filesystem
// throw, and the handler answered UNKNOWN).
absl::Status CheckClientPath(const std::string& path, const std::string& field) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty path"));
  if (path.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", Echo(path), " is ", path.size(),
                                                   " bytes; at most ", kMaxPathBytes));
  }
  for (char c : path) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", Echo(path), " holds a control character"));
    }
  }
  for (const fs::path& part : fs::path(path)) {
    if (part.native().size() > kMaxPathComponentBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", Echo(path), " has a name of ", part.native().size(),
                       " bytes; at most ", kMaxPathComponentBytes, " per folder or file"));
    }
  }
  return absl::OkStatus();
}

// The absolute, symlink-resolved form of `p` (existing prefix resolved, the rest normalised).
absl::StatusOr<fs::path> Resolve(const fs::path& p) {
  std::error_code ec;
  fs::path absolute = fs::absolute(p, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(Echo(p.string()), ": ", ec.message()));
  fs::path resolved = fs::weakly_canonical(absolute, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(Echo(p.string()), ": ", ec.message()));
  return resolved.lexically_normal();
}

// Whether `p` is `root` or lies below it (both resolved).
bool IsInside(const fs::path& root, const fs::path& p) {
  auto r = root.begin(), q = p.begin();
  for (; r != root.end(); ++r, ++q) {
    if (r->empty()) continue;  // a trailing separator
    if (q == p.end() || *r != *q) return false;
  }
  return true;
}

bool Exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

std::string RandomSuffix() {
  std::random_device random;
  return absl::StrFormat("%08x%08x", random(), random());
}

absl::Status IoError(const std::string& what, const fs::path& p, const std::error_code& ec) {
  const std::string message = absl::StrCat(what, " ", Echo(p.string()), ": ", ec.message());
  if (ec == std::errc::permission_denied || ec == std::errc::read_only_file_system) {
    return absl::PermissionDeniedError(message);
  }
  if (ec == std::errc::no_space_on_device) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

}  // namespace

Storage::Storage(fs::path checkpoint_root, std::vector<fs::path> model_roots)
    : checkpoint_root_(std::move(checkpoint_root)), model_roots_(std::move(model_roots)) {}

absl::StatusOr<Storage> Storage::Create(const StorageOptions& options) {
  ASSIGN_OR_RETURN(fs::path checkpoint_root,
                   Resolve(options.checkpoint_root.empty() ? fs::path("checkpoints")
                                                           : fs::path(options.checkpoint_root)));
  std::vector<fs::path> model_roots;
  for (const std::string& root : options.model_roots) {
    if (root.empty()) return absl::InvalidArgumentError("an empty model root");
    ASSIGN_OR_RETURN(fs::path resolved, Resolve(root));
    model_roots.push_back(std::move(resolved));
  }
  return Storage(std::move(checkpoint_root), std::move(model_roots));
}

absl::StatusOr<fs::path> Storage::ModelFolder(const std::string& path,
                                              const std::string& field) const {
  RETURN_IF_ERROR(CheckClientPath(path, field));
  std::vector<fs::path> roots = {checkpoint_root_};
  roots.insert(roots.end(), model_roots_.begin(), model_roots_.end());
  const fs::path requested(path);
  if (requested.is_relative()) {
    bool inside_a_root = false;
    for (const fs::path& root : roots) {
      ASSIGN_OR_RETURN(fs::path candidate, Resolve(root / requested));
      if (!IsInside(root, candidate)) continue;
      inside_a_root = true;
      if (Exists(candidate)) return candidate;
    }
    if (inside_a_root) {
      return absl::NotFoundError(absl::StrCat(field, ": ", Echo(path),
                                              " is in none of the learner's checkpoint root or "
                                              "model roots (learner.model_roots)"));
    }
  } else {
    ASSIGN_OR_RETURN(fs::path candidate, Resolve(requested));
    for (const fs::path& root : roots) {
      if (IsInside(root, candidate)) return candidate;
    }
  }
  std::vector<std::string> names;
  for (const fs::path& root : roots) names.push_back(root.string());
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": ", Echo(path),
      " is not a folder inside the learner's checkpoint root or model roots (",
      absl::StrJoin(names, ", "),
      "); name a path relative to one of them, or add its folder to learner.model_roots in the "
      "learner's YAML"));
}

absl::StatusOr<fs::path> Storage::CheckpointFolder(const std::string& path) const {
  RETURN_IF_ERROR(CheckClientPath(path, "path"));
  const fs::path requested(path);
  ASSIGN_OR_RETURN(fs::path candidate,
                   Resolve(requested.is_relative() ? checkpoint_root_ / requested : requested));
  if (!IsInside(checkpoint_root_, candidate) || candidate == checkpoint_root_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "path: ", Echo(path), " is not a folder inside the learner's checkpoint root ",
        checkpoint_root_.string(),
        " (learner.checkpoint_root in the learner's YAML); name a path relative to it"));
  }
  return candidate;
}

absl::Status Storage::WriteCheckpoint(
    const fs::path& dir, bool overwrite,
    const std::function<absl::Status(const fs::path&)>& write) const {
  std::error_code ec;
  const bool exists = fs::exists(fs::symlink_status(dir, ec));
  if (exists && !overwrite) {
    return absl::AlreadyExistsError(absl::StrCat(Echo(dir.string()), " exists (set overwrite)"));
  }
  if (exists && !(fs::is_directory(fs::symlink_status(dir, ec)) &&
                  fs::is_regular_file(dir / kCheckpointMarker, ec))) {
    return absl::FailedPreconditionError(absl::StrCat(
        Echo(dir.string()), " exists but is not a learner checkpoint (no ", kCheckpointMarker,
        " file): the learner replaces only its own checkpoints; choose another path"));
  }
  const fs::path parent = dir.parent_path();
  fs::create_directories(parent, ec);
  if (ec) return IoError("creating", parent, ec);
  // Temporary names are hidden and short enough for any legal final name's folder.
  const fs::path temporary = parent / absl::StrCat(".tmp-", RandomSuffix());
  fs::create_directory(temporary, ec);
  if (ec) return IoError("creating", temporary, ec);
  auto abandon = [&](absl::Status status) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    return status;
  };
  if (absl::Status written = write(temporary); !written.ok()) return abandon(written);
  {
    std::ofstream marker(temporary / kCheckpointMarker);
    marker << "plumb-learner checkpoint\n";
    if (!marker) return abandon(absl::InternalError("could not write the checkpoint marker"));
  }
  if (!exists) {
    fs::rename(temporary, dir, ec);
    if (ec) return abandon(IoError("renaming a new checkpoint to", dir, ec));
    return absl::OkStatus();
  }
  const fs::path old = parent / absl::StrCat(".old-", RandomSuffix());
  fs::rename(dir, old, ec);
  if (ec) return abandon(IoError("moving the old checkpoint away from", dir, ec));
  fs::rename(temporary, dir, ec);
  if (ec) {
    std::error_code restored;
    fs::rename(old, dir, restored);
    return abandon(IoError("renaming a new checkpoint to", dir, ec));
  }
  fs::remove_all(old, ec);  // it held the marker: the learner's own checkpoint
  return absl::OkStatus();
}

}  // namespace plumb::learner
