// A Plumb service binary started for a test: the process, and the ports from its ready line
// ("<binary> ready grpc_port=N metrics_port=M").
//
// Thread safety: one test thread owns a RunningService.
#ifndef PLUMB_TESTS_SUPPORT_SERVICE_PROCESS_H_
#define PLUMB_TESTS_SUPPORT_SERVICE_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/subprocess.h"

namespace plumb::testing {

struct RunningService {
  std::unique_ptr<Subprocess> process;
  int grpc_port = 0;
  int metrics_port = 0;  // 0 when the metrics endpoint is disabled
  std::string endpoint;  // "127.0.0.1:<grpc_port>"
};

// Starts build/bin/<binary> --config <config> and waits for its ready line. `env` entries
// ("NAME=value") are added to the child's environment.
absl::StatusOr<RunningService> StartService(const std::string& binary, const std::string& config,
                                            absl::Duration timeout = absl::Seconds(60),
                                            const std::vector<std::string>& env = {});

// Writes `yaml` to `config_path`, then StartService(binary, config_path, timeout, env).
absl::StatusOr<RunningService> StartServiceWithYaml(const std::string& binary,
                                                    const std::string& config_path,
                                                    const std::string& yaml,
                                                    absl::Duration timeout = absl::Seconds(60),
                                                    const std::vector<std::string>& env = {});

// Removes `dir` if it exists and creates it again, empty (a test suite's working folder).
absl::Status MakeEmptyFolder(const std::string& dir);

// `plumb-model init --out <dir> --size tiny <extra_args>` (e.g. "--seed 2 --reward-outputs 1").
absl::Status MakeTinyModel(const std::string& dir, const std::string& extra_args = "");

}  // namespace plumb::testing

#endif  // PLUMB_TESTS_SUPPORT_SERVICE_PROCESS_H_
