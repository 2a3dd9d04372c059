#include "services/plumb-coordinator/dataset_files.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace plumb::coordinator {
namespace fs = std::filesystem;

namespace {

absl::StatusOr<std::vector<std::string>> FolderFiles(const std::string& folder, bool jsonl_only,
                                                     bool skip_dotted) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    // Regular files only: links (fortunes' .u8 names) and folders are passed over.
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    const std::string name = it->path().filename().string();
    if (absl::StartsWith(name, ".")) continue;
    if (jsonl_only && !absl::EndsWith(name, ".jsonl")) continue;
    if (skip_dotted && absl::StrContains(name, ".")) continue;
    files.push_back(it->path().string());
    if (static_cast<int64_t>(files.size()) > kMaxDatasetFiles) {
      return absl::ResourceExhaustedError(
          absl::StrCat(folder, ": more than ", kMaxDatasetFiles, " data files"));
    }
  }
  if (ec) return absl::NotFoundError(absl::StrCat(folder, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(folder, ": no ", jsonl_only ? "*.jsonl " : "", "data files in the folder"));
  }
  return files;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SourceFiles(const DatasetSource& source) {
  if (absl::StartsWith(source.path, "builtin:")) {
    const std::string name = source.path.substr(8);
    if (name != "fortunes") {
      return absl::NotFoundError(
          absl::StrCat(source.path, ": unknown builtin corpus; the builtin corpora are: fortunes"));
    }
    std::error_code ec;
    if (!fs::is_directory(kFortunesFolder, ec)) {
      return absl::NotFoundError(absl::StrCat(source.path, ": ", kFortunesFolder,
                                              " is missing; install Debian's `fortunes` package "
                                              "(scripts/setup.sh does)"));
    }
    // The fortune files have no extension; their .dat indexes and .u8 links are skipped.
    return FolderFiles(kFortunesFolder, /*jsonl_only=*/false, /*skip_dotted=*/true);
  }
  std::error_code ec;
  if (fs::is_directory(source.path, ec)) {
    return FolderFiles(source.path, source.format != DatasetFormat::kPlainText, false);
  }
  return std::vector<std::string>{source.path};
}

std::vector<std::string> PlainTextExamples(const std::string& text) {
  std::vector<std::string> out;
  const bool fortunes = text.find("\n%\n") != std::string::npos || text.rfind("%\n", 0) == 0;
  if (fortunes) {
    std::string current;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (line == "%") {
        if (!absl::StripAsciiWhitespace(current).empty()) out.push_back(current);
        current.clear();
      } else {
        absl::StrAppend(&current, current.empty() ? "" : "\n", line);
      }
    }
    if (!absl::StripAsciiWhitespace(current).empty()) out.push_back(current);
  } else {
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StripAsciiWhitespace(line).empty()) out.emplace_back(line);
    }
  }
  return out;
}

int64_t WeightedCount(int64_t n, double weight) {
  if (n <= 0) return 0;
  return std::max<int64_t>(1, std::llround(weight * static_cast<double>(n)));
}

}  // namespace plumb::coordinator
