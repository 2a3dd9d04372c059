#include "common/service/service_args.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"

#ifndef PLUMB_VERSION
#define PLUMB_VERSION "unknown"
#endif

namespace plumb::service {

absl::StatusOr<ServiceArgs> ParseServiceArgs(int argc, char** argv, bool config_required,
                                             absl::string_view description) {
  const std::string binary =
      argc > 0 ? std::filesystem::path(argv[0]).filename().string() : "plumb-service";
  CLI::App app(std::string(description), binary);
  ServiceArgs args;
  CLI::Option* config =
      app.add_option("--config", args.config_path, "The service's YAML file (see configs/)");
  if (config_required) config->required();
  app.add_flag("--check-config", args.check_config,
               "Parse and validate the config file, then exit (0 when it is valid)");
  app.set_version_flag("--version", absl::StrCat(binary, " ", PLUMB_VERSION));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    args.exit_code = 0;
    return args;
  } catch (const CLI::CallForVersion&) {
    std::cout << absl::StrCat(binary, " ", PLUMB_VERSION) << "\n";
    args.exit_code = 0;
    return args;
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(e.what(), "; usage: ", binary, " --config FILE (see --help)"));
  }
  const std::string dir = std::filesystem::path(args.config_path).parent_path().string();
  args.config_dir = dir.empty() ? "." : dir;
  return args;
}

int ConfigChecked(absl::string_view binary, absl::string_view path) {
  std::printf("%.*s: configuration OK (%.*s)\n", static_cast<int>(binary.size()), binary.data(),
              static_cast<int>(path.size()), path.data());
  return 0;
}

int ExitWithError(absl::string_view binary, int exit_code, const absl::Status& status) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(binary.size()), binary.data(),
               static_cast<int>(status.message().size()), status.message().data());
  return exit_code;
}

}  // namespace plumb::service
