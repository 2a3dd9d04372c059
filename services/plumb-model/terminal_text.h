// Text that plumb-model prints: model output is arbitrary bytes (a random model emits control
// characters and broken UTF-8), so people get it quoted and escaped, and scripts get JSON that
// is always valid UTF-8.
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_TERMINAL_TEXT_H_
#define PLUMB_SERVICES_PLUMB_MODEL_TERMINAL_TEXT_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"

namespace plumb::model_tool {

// `bytes` in double quotes: well-formed UTF-8 (printable) is kept, '"' and '\\' are escaped,
// \n \t \r are written so, and every other control or stray byte as \xNN.
std::string QuoteForTerminal(absl::string_view bytes);

// One line of compact JSON. Strings that are not valid UTF-8 get U+FFFD for each bad byte
// (token ids, printed beside them, stay exact).
std::string ToJsonLine(const nlohmann::ordered_json& value);

// 1234567 -> "1,234,567".
std::string WithThousandsSeparators(int64_t value);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_TERMINAL_TEXT_H_
