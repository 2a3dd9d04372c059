#include "services/plumb-model/tokenizer_files.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "services/plumb-model/byte_tokenizer_json.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

namespace fs = std::filesystem;

// Files that travel with a tokenizer.json (the bos/eos/pad roles live in them).
constexpr const char* kHfCompanions[] = {"tokenizer_config.json", "special_tokens_map.json"};

absl::Status Copy(const fs::path& from, const fs::path& to) {
  std::error_code error;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot copy ", from.string(), " to ", to.string(), ": ", error.message()));
  }
  return absl::OkStatus();
}

// Copies `tokenizer_json` as dir/tokenizer.json, with the companions beside it.
absl::Status CopyHfTokenizer(const fs::path& tokenizer_json, const fs::path& dir) {
  if (absl::Status status = Copy(tokenizer_json, dir / "tokenizer.json"); !status.ok()) {
    return status;
  }
  std::error_code error;
  for (const char* name : kHfCompanions) {
    const fs::path companion = tokenizer_json.parent_path() / name;
    if (!fs::is_regular_file(companion, error)) continue;
    if (absl::Status status = Copy(companion, dir / name); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InstallTokenizerFiles(const std::string& source, const fs::path& dir) {
  if (source == "byte") return WriteByteTokenizerFiles(dir);
  const fs::path path(source);
  std::error_code error;
  if (fs::is_regular_file(path, error)) return CopyHfTokenizer(path, dir);
  if (fs::is_regular_file(path / "tokenizer.json", error)) {
    return CopyHfTokenizer(path / "tokenizer.json", dir);
  }
  for (const char* name : {"encoder.json", "vocab.bpe"}) {
    if (absl::Status status = Copy(path / name, dir / name); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status CheckTokenizerSourceOutside(const std::string& source, const fs::path& dir) {
  if (source == "byte") return absl::OkStatus();
  std::error_code error;
  fs::path folder(source);
  if (!fs::is_directory(folder, error)) folder = folder.parent_path();
  if (folder.empty()) folder = ".";
  if (fs::equivalent(folder, dir, error)) {
    return UsageError(absl::StrCat("--tokenizer ", source, " is inside --out ", dir.string(),
                                   ", whose tokenizer files init replaces; copy it elsewhere "
                                   "first"));
  }
  return absl::OkStatus();
}

}  // namespace plumb::model_tool
