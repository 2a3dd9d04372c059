#include "services/plumbctl/job_spec_file.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "services/plumb-coordinator/job_spec_reader.h"

namespace plumb::plumbctl {

absl::StatusOr<v1::JobSpec> LoadJobSpecFile(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error)
    return absl::NotFoundError(absl::StrCat(path, ": cannot read (", error.message(), ")"));
  if (size > coordinator::kMaxSpecTextBytes) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", size, " bytes; a spec is at most ",
                                                   coordinator::kMaxSpecTextBytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  return coordinator::ParseJobSpecText(text.str(), path);
}

}  // namespace plumb::plumbctl
