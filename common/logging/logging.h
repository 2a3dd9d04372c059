// Process-wide logging through spdlog: one line per event on stderr, level chosen by config.
//
//   logging:
//     level: info       # trace | debug | info | warn | error | off
//     format: text      # text (for people) | json (one JSON object per line, for log shippers)
//
// Thread safety: InitLogging is called once from main() before threads start; logging itself
// (spdlog::info(...)) is thread-safe.
#ifndef PLUMB_COMMON_LOGGING_LOGGING_H_
#define PLUMB_COMMON_LOGGING_LOGGING_H_

#include <string>

#include "absl/status/status.h"
#include "common/config/config_map.h"

namespace plumb {

struct LoggingOptions {
  std::string level = "info";
  std::string format = "text";
};

// Reads the keys of a `logging:` section (see above) into `options`.
absl::Status ParseLoggingOptions(config::ConfigMap& section, LoggingOptions* options);

// Installs the default logger; `component` (e.g. "plumb-generator") starts every line.
void InitLogging(const LoggingOptions& options, const std::string& component);

}  // namespace plumb

#endif  // PLUMB_COMMON_LOGGING_LOGGING_H_
