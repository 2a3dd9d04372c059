#include "common/status/echo.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb {

std::string Echo(std::string_view value, size_t max, char quote) {
  std::string out(1, quote);
  const size_t kept = value.size() < max ? value.size() : max;
  for (size_t i = 0; i < kept; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c >= 0x7f || c == static_cast<unsigned char>(quote) || c == '\\') {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back(quote);
  if (kept < value.size()) absl::StrAppend(&out, "...(", value.size(), " bytes)");
  return out;
}

}  // namespace plumb
