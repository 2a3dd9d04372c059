#include "common/service/service_args.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace plumb::service {

absl::StatusOr<ServiceArgs> ParseServiceArgs(int argc, char** argv, bool config_required) {
  ServiceArgs args;
  const std::string usage =
      absl::StrCat("usage: ", argc > 0 ? argv[0] : "plumb-service", " --config FILE");
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      args.config_path = argv[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", argv[i], "'; ", usage));
    }
  }
  if (config_required && args.config_path.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--config is required; ", usage));
  }
  const std::string dir = std::filesystem::path(args.config_path).parent_path().string();
  args.config_dir = dir.empty() ? "." : dir;
  return args;
}

int ExitWithError(absl::string_view binary, int exit_code, const absl::Status& status) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(binary.size()), binary.data(),
               static_cast<int>(status.message().size()), status.message().data());
  return exit_code;
}

}  // namespace plumb::service
