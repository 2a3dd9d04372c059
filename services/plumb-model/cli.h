// The plumb-model command line: parses arguments, runs the chosen subcommand and prints its
// result (text, or one JSON object with --json) to `out`. Errors go to `err` as one line,
// "plumb-model: <what is wrong and how to fix it>"; the return value is the exit code
// (tool_status.h: 0 ok, 1 failure, 2 usage). No exception escapes.
//
// Thread safety: call from one thread (LibTorch's thread count is process-wide).
#ifndef PLUMB_SERVICES_PLUMB_MODEL_CLI_H_
#define PLUMB_SERVICES_PLUMB_MODEL_CLI_H_

#include <iosfwd>

namespace plumb::model_tool {

int RunPlumbModel(int argc, const char* const* argv, std::istream& in, std::ostream& out,
                  std::ostream& err);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_CLI_H_
