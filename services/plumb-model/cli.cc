#include "services/plumb-model/cli.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/torch_status.h"
#include "services/plumb-model/info_command.h"
#include "services/plumb-model/init_command.h"
#include "services/plumb-model/logprobs_command.h"
#include "services/plumb-model/sample_command.h"
#include "services/plumb-model/terminal_text.h"
#include "services/plumb-model/tokenize_command.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

constexpr char kName[] = "plumb-model";
constexpr char kSubcommands[] =
    "expected init, info, tokenize, sample or logprobs (see `plumb-model --help`)";

void PrintError(std::ostream& err, absl::string_view message) {
  err << kName << ": " << message << "\n";
}

// The chosen subcommand's result; plumb-model's one model boundary: whatever a subcommand
// throws (LibTorch's errors among it) becomes a Status naming the subcommand.
absl::StatusOr<CommandOutput> RunGuarded(const Subcommand& command) {
  return TorchBoundary(command.app->get_name(), [&] { return command.run(); });
}

}  // namespace

int RunPlumbModel(int argc, const char* const* argv, std::istream& in, std::ostream& out,
                  std::ostream& err) {
  CLI::App app(
      "Create, inspect and run small Plumb models (Hugging Face model folders).\n"
      "Exit status: 0 success, 1 failure, 2 usage error. With --json every "
      "subcommand prints one JSON object on stdout.",
      kName);
  app.require_subcommand(1);
  bool json = false;
  std::vector<Subcommand> commands = {AddInitCommand(app), AddInfoCommand(app),
                                      AddTokenizeCommand(app, &in), AddSampleCommand(app),
                                      AddLogprobsCommand(app)};
  for (const Subcommand& command : commands) {
    command.app->add_flag("--json", json, "Print one JSON object instead of text");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error, out, err);  // --help
    if (app.get_subcommands().empty()) {
      PrintError(err, argc > 1 && argv[1][0] != '-'
                          ? absl::StrCat("unknown subcommand \"", argv[1], "\"; ", kSubcommands)
                          : absl::StrCat(error.what(), "; ", kSubcommands));
      return kExitUsage;
    }
    const std::string name = app.get_subcommands().front()->get_name();
    PrintError(err, absl::StrCat(error.what(), " (see `", kName, " ", name, " --help`)"));
    return kExitUsage;
  } catch (const std::exception& error) {
    PrintError(err, error.what());
    return kExitUsage;
  }

  for (const Subcommand& command : commands) {
    if (!command.app->parsed()) continue;
    absl::StatusOr<CommandOutput> output = RunGuarded(command);
    if (!output.ok()) {
      PrintError(err, output.status().message());
      return ExitCodeFor(output.status());
    }
    try {
      out << (json ? ToJsonLine(output->json) + "\n" : output->text);
      out.flush();
    } catch (const std::exception& error) {
      PrintError(err, absl::StrCat("printing the result: ", error.what()));
      return kExitFailure;
    }
    return out ? kExitOk : kExitFailure;
  }
  return kExitUsage;  // unreachable: require_subcommand(1)
}

}  // namespace plumb::model_tool
