#include "common/tokenizer/utf8_runs.h"

#include <cstdint>

namespace plumb::tokenizer {
namespace {

bool InRange(uint8_t byte, uint8_t low, uint8_t high) { return byte >= low && byte <= high; }

}  // namespace

int Utf8SequenceLength(absl::string_view text) {
  if (text.empty()) return 0;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  // Allowed range of the second byte for each lead byte (table 3-7); later bytes are 80..BF.
  int length = 0;
  uint8_t low = 0x80;
  uint8_t high = 0xBF;
  if (InRange(lead, 0xC2, 0xDF)) {
    length = 2;
  } else if (lead == 0xE0) {
    length = 3;
    low = 0xA0;
  } else if (InRange(lead, 0xE1, 0xEC) || InRange(lead, 0xEE, 0xEF)) {
    length = 3;
  } else if (lead == 0xED) {
    length = 3;
    high = 0x9F;  // excludes the surrogates
  } else if (lead == 0xF0) {
    length = 4;
    low = 0x90;
  } else if (InRange(lead, 0xF1, 0xF3)) {
    length = 4;
  } else if (lead == 0xF4) {
    length = 4;
    high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < static_cast<size_t>(length)) return 0;
  if (!InRange(byte(1), low, high)) return 0;
  for (int i = 2; i < length; ++i) {
    if (!InRange(byte(i), 0x80, 0xBF)) return 0;
  }
  return length;
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const int length = Utf8SequenceLength(text.substr(i));
    if (length == 0) return false;
    i += length;
  }
  return true;
}

void ForEachUtf8Run(absl::string_view text,
                    absl::FunctionRef<void(absl::string_view run, bool valid)> on_run) {
  size_t run_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    // ASCII is by far the common case; skip it without the table walk.
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const int length = Utf8SequenceLength(text.substr(i));
    if (length > 0) {
      i += length;
      continue;
    }
    if (i > run_start) on_run(text.substr(run_start, i - run_start), true);
    on_run(text.substr(i, 1), false);
    ++i;
    run_start = i;
  }
  if (i > run_start) on_run(text.substr(run_start, i - run_start), true);
}

std::string ToValidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  ForEachUtf8Run(text, [&out](absl::string_view run, bool valid) {
    if (valid) {
      out.append(run.data(), run.size());
    } else {
      out.append("\xEF\xBF\xBD");
    }
  });
  return out;
}

}  // namespace plumb::tokenizer
