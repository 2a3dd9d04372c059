#include "common/tokenizer/byte_level_alphabet.h"

#include <array>

#include "common/tokenizer/utf8_runs.h"

namespace plumb::tokenizer {
namespace {

constexpr bool MapsToItself(int byte) {
  return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
         (byte >= 0xAE && byte <= 0xFF);
}

struct Alphabet {
  std::array<char32_t, 256> code_point{};
  // Every code point in the alphabet is below U+0144.
  static constexpr char32_t kEnd = 0x144;
  std::array<int16_t, kEnd> byte_of{};
};

constexpr Alphabet MakeAlphabet() {
  Alphabet alphabet;
  for (auto& b : alphabet.byte_of) b = -1;
  char32_t next_shifted = 0x100;
  for (int byte = 0; byte < 256; ++byte) {
    const char32_t cp = MapsToItself(byte) ? static_cast<char32_t>(byte) : next_shifted++;
    alphabet.code_point[byte] = cp;
    alphabet.byte_of[cp] = static_cast<int16_t>(byte);
  }
  return alphabet;
}

constexpr Alphabet kAlphabet = MakeAlphabet();

void AppendUtf8(char32_t cp, std::string* out) {
  // Alphabet code points are all below U+0800: one or two bytes.
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

char32_t ByteLevelCodePoint(uint8_t byte) { return kAlphabet.code_point[byte]; }

std::optional<uint8_t> ByteFromByteLevelCodePoint(char32_t code_point) {
  if (code_point >= Alphabet::kEnd || kAlphabet.byte_of[code_point] < 0) return std::nullopt;
  return static_cast<uint8_t>(kAlphabet.byte_of[code_point]);
}

std::string BytesToByteLevel(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) AppendUtf8(ByteLevelCodePoint(static_cast<uint8_t>(c)), &out);
  return out;
}

std::optional<std::string> ByteLevelToBytes(absl::string_view byte_level) {
  std::string out;
  out.reserve(byte_level.size());
  size_t i = 0;
  while (i < byte_level.size()) {
    const int length = Utf8SequenceLength(byte_level.substr(i));
    if (length == 0 || length > 2) return std::nullopt;
    const auto b0 = static_cast<uint8_t>(byte_level[i]);
    const char32_t cp = length == 1 ? b0
                                    : ((static_cast<char32_t>(b0 & 0x1F) << 6) |
                                       (static_cast<uint8_t>(byte_level[i + 1]) & 0x3F));
    const std::optional<uint8_t> byte = ByteFromByteLevelCodePoint(cp);
    if (!byte.has_value()) return std::nullopt;
    out.push_back(static_cast<char>(*byte));
    i += length;
  }
  return out;
}

}  // namespace plumb::tokenizer
