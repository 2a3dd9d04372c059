// plumbctl: the command-line client of the coordinator (plumb.v1.Coordinator).
//
//   plumbctl submit job.yaml            # prints the job id
//   plumbctl watch <job id>             # exits 0 SUCCEEDED, 1 FAILED, 3 CANCELLED
//
// `plumbctl --help` lists every subcommand, the connection settings and the exit codes.
#include <unistd.h>

#include <iostream>

#include "services/plumbctl/cli.h"

int main(int argc, char** argv) {
  plumb::plumbctl::CliEnvironment environment{
      .out = &std::cout,
      .err = &std::cerr,
      .out_is_terminal = isatty(STDOUT_FILENO) == 1,
      .env = plumb::plumbctl::ProcessEnvironment(),
  };
  return plumb::plumbctl::RunPlumbctl(argc, argv, environment);
}
