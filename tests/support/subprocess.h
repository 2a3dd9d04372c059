// A child process for end-to-end tests: started with its stdout on a pipe, so the test can wait
// for the "ready" line a Plumb service prints, then signalled and reaped.
//
// Thread safety: one test thread owns a Subprocess.
#ifndef PLUMB_TESTS_SUPPORT_SUBPROCESS_H_
#define PLUMB_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace plumb::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with the given arguments. stderr is inherited, or sent into the
  // same pipe as stdout with `merge_stderr` (to read error messages).
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv,
                                          bool merge_stderr = false);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&&) = delete;
  ~Subprocess();  // SIGKILLs and reaps a child that is still running

  // Reads stdout lines until one contains `needle`; returns that line. DEADLINE_EXCEEDED after
  // `timeout`, FAILED_PRECONDITION if stdout closes first (the child exited).
  absl::StatusOr<std::string> WaitForLine(const std::string& needle, absl::Duration timeout);

  void Signal(int signal_number);

  // Waits for the child to exit; returns its exit code, or 128 + signal if it was killed.
  // DEADLINE_EXCEEDED if it is still running after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffered_;
  bool reaped_ = false;
};

// Absolute path of a binary built into build/bin (from $PLUMB_BIN_DIR, set by CTest).
std::string BinaryPath(const std::string& name);

}  // namespace plumb::testing

#endif  // PLUMB_TESTS_SUPPORT_SUBPROCESS_H_
