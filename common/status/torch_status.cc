#include "common/status/torch_status.h"

#include <c10/util/Exception.h>

#include <exception>
#include <new>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace plumb {
namespace {

absl::Status Make(absl::StatusCode code, const std::string& what, absl::string_view message) {
  return absl::Status(code,
                      what.empty() ? std::string(message) : absl::StrCat(what, ": ", message));
}

// "[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: ..." -> "DefaultCPU...".
absl::string_view StripEnforcePrefix(absl::string_view message) {
  if (!absl::StartsWith(message, "[enforce fail at ")) return message;
  const size_t end = message.find(". ");
  return end == absl::string_view::npos ? message : message.substr(end + 2);
}

}  // namespace

absl::Status StatusFromCurrentException(const std::string& what) {
  // The most derived types first: every c10 error below derives from c10::Error, which derives
  // from std::exception.
  try {
    throw;
  } catch (const c10::ValueError& e) {
    return Make(absl::StatusCode::kInvalidArgument, what, e.what_without_backtrace());
  } catch (const c10::IndexError& e) {
    return Make(absl::StatusCode::kInvalidArgument, what, e.what_without_backtrace());
  } catch (const c10::TypeError& e) {
    return Make(absl::StatusCode::kInvalidArgument, what, e.what_without_backtrace());
  } catch (const c10::NotImplementedError& e) {
    return Make(absl::StatusCode::kUnimplemented, what, e.what_without_backtrace());
  } catch (const c10::OutOfMemoryError& e) {
    return Make(absl::StatusCode::kResourceExhausted, what, e.what_without_backtrace());
  } catch (const c10::Error& e) {
    // LibTorch 1.13's CPU allocator reports a failed allocation as a plain c10::Error.
    const absl::string_view message = e.what_without_backtrace();
    if (absl::StrContains(message, "DefaultCPUAllocator: can't allocate memory") ||
        absl::StrContains(message, "DefaultCPUAllocator: not enough memory")) {
      return Make(absl::StatusCode::kResourceExhausted, what, StripEnforcePrefix(message));
    }
    return Make(absl::StatusCode::kInternal, what, message);
  } catch (const std::bad_alloc&) {
    return Make(absl::StatusCode::kResourceExhausted, what, "out of memory");
  } catch (const std::exception& e) {
    return Make(absl::StatusCode::kInternal, what, e.what());
  } catch (...) {
    return Make(absl::StatusCode::kInternal, what, "an unknown exception");
  }
}

}  // namespace plumb
