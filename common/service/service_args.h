// The command line every Plumb service binary takes: `--config FILE`, and how it reports a
// failure before serving ("<binary>: <message>" on stderr, exit 1 for a start-up failure, 2 for a
// usage or configuration error).
//
// Thread safety: main()'s thread.
#ifndef PLUMB_COMMON_SERVICE_SERVICE_ARGS_H_
#define PLUMB_COMMON_SERVICE_SERVICE_ARGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::service {

struct ServiceArgs {
  std::string config_path;  // "" when absent and allowed
  std::string config_dir;   // the folder relative config paths resolve against ("." if none)
};

// INVALID_ARGUMENT with a usage line for an unknown argument, or a missing --config when
// `config_required`.
absl::StatusOr<ServiceArgs> ParseServiceArgs(int argc, char** argv, bool config_required);

// Prints "<binary>: <message>" to stderr and returns `exit_code`.
int ExitWithError(absl::string_view binary, int exit_code, const absl::Status& status);

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_SERVICE_ARGS_H_
