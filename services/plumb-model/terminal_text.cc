#include "services/plumb-model/terminal_text.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/tokenizer/utf8_runs.h"

namespace plumb::model_tool {
namespace {

void AppendEscapedRun(absl::string_view run, std::string* out) {
  for (const char c : run) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\r':
        out->append("\\r");
        break;
      default: {
        const auto byte = static_cast<uint8_t>(c);
        if (byte < 0x20 || byte == 0x7f) {
          absl::StrAppendFormat(out, "\\x%02x", byte);
        } else {
          out->push_back(c);
        }
      }
    }
  }
}

}  // namespace

std::string QuoteForTerminal(absl::string_view bytes) {
  std::string out = "\"";
  tokenizer::ForEachUtf8Run(bytes, [&](absl::string_view run, bool valid) {
    if (valid) {
      AppendEscapedRun(run, &out);
    } else {
      for (const char c : run) absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint8_t>(c));
    }
  });
  out.push_back('"');
  return out;
}

std::string ToJsonLine(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false,
                    nlohmann::ordered_json::error_handler_t::replace);
}

std::string WithThousandsSeparators(int64_t value) {
  std::string digits = absl::StrCat(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

}  // namespace plumb::model_tool
