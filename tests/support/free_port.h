// A loopback TCP port that was free a moment ago, for rendezvous addresses that must be known
// before the process that listens on them starts (c10d's TCPStore on MASTER_PORT). Racy by
// nature (another process may take it first); servers that can bind port 0 should.
#ifndef PLUMB_TESTS_SUPPORT_FREE_PORT_H_
#define PLUMB_TESTS_SUPPORT_FREE_PORT_H_

namespace plumb::testing {

// Binds 127.0.0.1:0, reads the port the kernel chose and closes the socket.
int FreeLoopbackPort();

}  // namespace plumb::testing

#endif  // PLUMB_TESTS_SUPPORT_FREE_PORT_H_
