// plumbctl's command line: flag parsing (CLI11), connection settings, dispatch to the
// subcommands, and the mapping of errors to exit codes (watch_command.h). main() only supplies
// the real streams and environment; tests supply their own.
#ifndef PLUMB_SERVICES_PLUMBCTL_CLI_H_
#define PLUMB_SERVICES_PLUMBCTL_CLI_H_

#include <functional>
#include <ostream>

#include "absl/time/time.h"
#include "services/plumbctl/connection_settings.h"
#include "services/plumbctl/watch_command.h"

namespace plumb::plumbctl {

// What plumbctl reads from and writes to outside its arguments.
struct CliEnvironment {
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  bool out_is_terminal = false;  // isatty(stdout): watch redraws its progress line in place
  EnvLookup env;                 // environment variables (and through them the config file)
  std::function<absl::Time()> now = [] { return absl::Now(); };  // for ages in tables
  // watch's reconnect back-off, and gRPC's own retries of calls that fail UNAVAILABLE before
  // any response (tests shorten both).
  absl::Duration watch_initial_backoff = absl::Milliseconds(250);
  rpc::RetryOptions retry;
};

// Runs plumbctl with argv[0] = program name; returns the process exit code.
int RunPlumbctl(int argc, const char* const* argv, const CliEnvironment& environment);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_CLI_H_
