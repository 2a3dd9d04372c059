// Early-return helpers for absl::Status and absl::StatusOr<T>, which Abseil 20220623 lacks.
//
//   RETURN_IF_ERROR(DoThing());                       // returns the Status if it is not OK
//   ASSIGN_OR_RETURN(auto value, ComputeValue());     // unwraps a StatusOr or returns its Status
//   ASSIGN_OR_RETURN(existing, ComputeValue());       // assigns into an existing variable
#ifndef PLUMB_COMMON_STATUS_STATUS_MACROS_H_
#define PLUMB_COMMON_STATUS_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#define PLUMB_STATUS_CONCAT_INNER(a, b) a##b
#define PLUMB_STATUS_CONCAT(a, b) PLUMB_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status plumb_status_return_if_error_ = (expr); \
    if (!plumb_status_return_if_error_.ok()) {             \
      return plumb_status_return_if_error_;                \
    }                                                      \
  } while (false)

#define PLUMB_ASSIGN_OR_RETURN_IMPL(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                \
  if (!statusor.ok()) {                                   \
    return std::move(statusor).status();                  \
  }                                                       \
  lhs = std::move(statusor).value()

#define ASSIGN_OR_RETURN(lhs, rexpr) \
  PLUMB_ASSIGN_OR_RETURN_IMPL(PLUMB_STATUS_CONCAT(plumb_statusor_, __LINE__), lhs, rexpr)

namespace plumb {

// Returns `status` with `context` prepended to its message ("context: message"), keeping the
// code. OK stays OK. Use it to say where an error happened as it travels up.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace plumb

#endif  // PLUMB_COMMON_STATUS_STATUS_MACROS_H_
