#include "common/status/torch_status.h"

#include <c10/util/Exception.h>

#include <exception>
#include <new>

#include "absl/strings/str_cat.h"

namespace plumb {
namespace {

absl::Status Make(absl::StatusCode code, const std::string& what, absl::string_view message) {
  return absl::Status(code,
                      what.empty() ? std::string(message) : absl::StrCat(what, ": ", message));
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
    return Make(absl::StatusCode::kInternal, what, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return Make(absl::StatusCode::kResourceExhausted, what, "out of memory");
  } catch (const std::exception& e) {
    return Make(absl::StatusCode::kInternal, what, e.what());
  } catch (...) {
    return Make(absl::StatusCode::kInternal, what, "an unknown exception");
  }
}

}  // namespace plumb
