// The command line every Plumb service binary takes (CLI11, as the tools use):
//
//   plumb-generator --config FILE       serve
//   plumb-generator --config FILE --check-config
//                                       parse and validate FILE, print "configuration OK", exit 0
//   plumb-generator --help | --version
//
// and how a binary reports a failure before serving ("<binary>: <message>" on stderr, exit 1 for
// a start-up failure, 2 for a usage or configuration error).
//
// Thread safety: main()'s thread.
#ifndef PLUMB_COMMON_SERVICE_SERVICE_ARGS_H_
#define PLUMB_COMMON_SERVICE_SERVICE_ARGS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::service {

struct ServiceArgs {
  std::string config_path;  // "" when absent and allowed
  std::string config_dir;   // the folder relative config paths resolve against ("." if none)
  bool check_config = false;
  // Set when the command line was answered without serving (--help or --version printed):
  // main() returns it at once.
  std::optional<int> exit_code;
};

// INVALID_ARGUMENT with a usage hint for an unknown argument, or a missing --config when
// `config_required`. `description` is the first line of --help.
absl::StatusOr<ServiceArgs> ParseServiceArgs(int argc, char** argv, bool config_required,
                                             absl::string_view description = "");

// Prints "<binary>: configuration OK (<path>)" to stdout and returns 0 (for --check-config).
int ConfigChecked(absl::string_view binary, absl::string_view path);

// Prints "<binary>: <message>" to stderr and returns `exit_code`.
int ExitWithError(absl::string_view binary, int exit_code, const absl::Status& status);

}  // namespace plumb::service

#endif  // PLUMB_COMMON_SERVICE_SERVICE_ARGS_H_
