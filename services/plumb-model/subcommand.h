// The shape every plumb-model subcommand shares: it registers its flags on the command line and
// returns one result holding the same facts twice, for scripts (a JSON object) and for people.
//
// Thread safety: a Subcommand is built and run on main()'s thread.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_SUBCOMMAND_H_
#define PLUMB_SERVICES_PLUMB_MODEL_SUBCOMMAND_H_

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace CLI {
class App;
}  // namespace CLI

namespace plumb::model_tool {

struct CommandOutput {
  nlohmann::ordered_json json;  // printed as one line with --json
  std::string text;             // printed otherwise; ends with a newline
};

struct Subcommand {
  CLI::App* app = nullptr;  // owned by the parent CLI::App
  // Runs the command with the flags parsed into it. Errors follow tool_status.h.
  std::function<absl::StatusOr<CommandOutput>()> run;
};

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_SUBCOMMAND_H_
