#include "common/rpc/shutdown_signal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace plumb::rpc {
namespace {

int g_pipe[2] = {-1, -1};

void OnSignal(int signal_number) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signal_number);
  [[maybe_unused]] ssize_t written = write(g_pipe[1], &byte, 1);
  errno = saved_errno;
}

}  // namespace

absl::Status InstallShutdownSignalHandlers() {
  static std::once_flag once;
  static absl::Status result;
  std::call_once(once, [] {
    if (pipe2(g_pipe, O_CLOEXEC) != 0) {
      result = absl::InternalError(absl::StrCat("pipe2: ", std::strerror(errno)));
      return;
    }
    // A full pipe must never block the handler; extra signals are simply dropped.
    fcntl(g_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction action = {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(SIGTERM, &action, nullptr) != 0 || sigaction(SIGINT, &action, nullptr) != 0) {
      result = absl::InternalError(absl::StrCat("sigaction: ", std::strerror(errno)));
    }
  });
  return result;
}

int WaitForShutdownSignal() {
  unsigned char byte = 0;
  while (true) {
    const ssize_t n = read(g_pipe[0], &byte, 1);
    if (n == 1) return byte;
    if (n < 0 && errno == EINTR) continue;
    return SIGTERM;  // the pipe broke: treat it as a request to stop
  }
}

}  // namespace plumb::rpc
