// The model boundary: runs model work and turns whatever it throws into an absl::Status, so no
// exception leaves a core. Each core calls it once per public entry point (or once per runner
// step), never around single operations inside the work:
//
//   return TorchBoundary("PPO update", [&]() -> absl::StatusOr<TrainStats> { ... });
//
// Codes: c10::ValueError / IndexError / TypeError (TORCH_CHECK_VALUE / _INDEX / _TYPE: a value
// that breaks an operator's contract) -> INVALID_ARGUMENT; c10::NotImplementedError ->
// UNIMPLEMENTED; c10::OutOfMemoryError, the CPU allocator's failure and std::bad_alloc ->
// RESOURCE_EXHAUSTED; any other
// c10::Error, std::exception or unknown exception -> INTERNAL. Messages are "<what>: <message>",
// LibTorch's without its C++ backtrace.
//
// Thread safety: pure functions.
#ifndef PLUMB_COMMON_STATUS_TORCH_STATUS_H_
#define PLUMB_COMMON_STATUS_TORCH_STATUS_H_

#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"

namespace plumb {

// The Status for the exception being handled; call it only inside a catch block. `what` says
// what was being done ("loading the policy"); empty = no prefix.
absl::Status StatusFromCurrentException(const std::string& what);

// Runs fn() (returning absl::Status or absl::StatusOr<T>) and returns its result, or the
// Status of what it threw. `what` is read only when something is thrown, so a caller may update
// the string it refers to as the work advances ("step 12: evaluation").
template <typename Fn>
auto TorchBoundary(const std::string& what, Fn&& fn) -> decltype(std::forward<Fn>(fn)()) {
  using Result = decltype(std::forward<Fn>(fn)());
  static_assert(std::is_constructible_v<Result, absl::Status>,
                "TorchBoundary needs a callable returning absl::Status or absl::StatusOr<T>");
  try {
    return std::forward<Fn>(fn)();
  } catch (...) {
    return Result(StatusFromCurrentException(what));
  }
}

}  // namespace plumb

#endif  // PLUMB_COMMON_STATUS_TORCH_STATUS_H_
