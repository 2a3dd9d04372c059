#include "services/plumbctl/job_spec_file.h"

#include "common/checkpoint/file_io.h"
#include "services/plumb-coordinator/job_spec_reader.h"

namespace plumb::plumbctl {

absl::StatusOr<v1::JobSpec> LoadJobSpecFile(const std::string& path) {
  absl::StatusOr<std::string> text =
      checkpoint::ReadFileToString(path, coordinator::kMaxSpecTextBytes);
  if (!text.ok()) return text.status();
  return coordinator::ParseJobSpecText(*text, path);
}

}  // namespace plumb::plumbctl
