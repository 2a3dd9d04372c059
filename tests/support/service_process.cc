#include "tests/support/service_process.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "absl/strings/str_cat.h"

namespace plumb::testing {

absl::StatusOr<RunningService> StartService(const std::string& binary, const std::string& config,
                                            absl::Duration timeout,
                                            const std::vector<std::string>& env) {
  std::vector<std::string> argv;
  if (!env.empty()) {
    argv.push_back("/usr/bin/env");
    argv.insert(argv.end(), env.begin(), env.end());
  }
  argv.insert(argv.end(), {BinaryPath(binary), "--config", config});
  absl::StatusOr<Subprocess> process = Subprocess::Start(argv);
  if (!process.ok()) return process.status();
  RunningService service;
  service.process = std::make_unique<Subprocess>(*std::move(process));
  absl::StatusOr<std::string> ready = service.process->WaitForLine(" ready ", timeout);
  if (!ready.ok()) {
    return absl::UnavailableError(
        absl::StrCat(binary, " did not start: ", ready.status().message()));
  }
  std::smatch match;
  if (!std::regex_search(*ready, match, std::regex("grpc_port=(\\d+) metrics_port=(\\d+)"))) {
    return absl::InternalError(absl::StrCat(binary, ": unexpected ready line: ", *ready));
  }
  service.grpc_port = std::stoi(match[1]);
  service.metrics_port = std::stoi(match[2]);
  service.endpoint = absl::StrCat("127.0.0.1:", service.grpc_port);
  return service;
}

absl::StatusOr<RunningService> StartServiceWithYaml(const std::string& binary,
                                                    const std::string& config_path,
                                                    const std::string& yaml, absl::Duration timeout,
                                                    const std::vector<std::string>& env) {
  std::ofstream out(config_path);
  out << yaml;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("could not write ", config_path));
  return StartService(binary, config_path, timeout, env);
}

absl::Status MakeEmptyFolder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!std::filesystem::create_directories(dir, ec) || ec) {
    return absl::InternalError(absl::StrCat("could not create ", dir, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status MakeTinyModel(const std::string& dir, const std::string& extra_args) {
  const std::string command = absl::StrCat(BinaryPath("plumb-model"), " init --out ", dir,
                                           " --size tiny ", extra_args, " >/dev/null");
  if (std::system(command.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("failed: ", command));
  }
  return absl::OkStatus();
}

}  // namespace plumb::testing
