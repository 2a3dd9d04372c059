// Turns SIGTERM and SIGINT into an event that main() waits for, so that a service drains its
// calls and exits 0 instead of dying mid-call. The handler only writes one byte to a pipe (the
// one async-signal-safe thing worth doing); the waiting happens on an ordinary thread.
//
// Thread safety: Install once, from main(), before starting servers; Wait from one thread.
#ifndef PLUMB_COMMON_RPC_SHUTDOWN_SIGNAL_H_
#define PLUMB_COMMON_RPC_SHUTDOWN_SIGNAL_H_

#include "absl/status/status.h"

namespace plumb::rpc {

// Installs the SIGTERM/SIGINT handlers. Idempotent.
absl::Status InstallShutdownSignalHandlers();

// Blocks until SIGTERM or SIGINT arrives (after Install) and returns the signal's number.
int WaitForShutdownSignal();

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_SHUTDOWN_SIGNAL_H_
