// Running plumbctl's CLI in a test: captured stdout/stderr, an environment of the test's choosing
// (HOME is a fresh temporary folder, so the real ~/.config is never read), and canned jobs.
#ifndef PLUMB_SERVICES_PLUMBCTL_PLUMBCTL_TEST_UTIL_H_
#define PLUMB_SERVICES_PLUMBCTL_PLUMBCTL_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "plumb/v1/coordinator.pb.h"

namespace plumb::plumbctl {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// A fresh, empty folder under the test's temporary directory.
std::string MakeTempFolder();
// Writes `text` to `folder`/`name`; returns the path.
std::string WriteFile(const std::string& folder, const std::string& name, const std::string& text);

// Runs `plumbctl args...` with exactly `env` as its environment (plus HOME = a fresh folder unless
// env sets it).
CliResult RunCli(const std::vector<std::string>& args, std::map<std::string, std::string> env = {},
                 bool terminal = false);

// A PPO job with one online stage of `rounds` rounds.
v1::Job PpoJob(const std::string& id, v1::JobState state, int rounds);
// Events of a job that starts, runs `rounds` rounds (started + finished, one second apart with
// reward/kl/tokens_per_second metrics) and ends in `final_state`.
std::vector<v1::JobEvent> CannedEvents(int rounds, v1::JobState final_state);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_PLUMBCTL_TEST_UTIL_H_
