// GPT-2's byte-level alphabet: a fixed bijection between the 256 byte values and 256 printable
// Unicode characters, so that a vocabulary of strings can name every byte sequence.
//
// Bytes that are printable Latin-1 ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) map to the
// character with the same code point; the other 68 bytes map, in increasing byte order, to
// U+0100, U+0101, ... So ' ' (0x20) is 'Ġ' (U+0120) and '\n' (0x0A) is 'Ċ' (U+010A). Vocabulary
// files of GPT-2, Llama 3 and Qwen2 spell their tokens in this alphabet.
//
// Thread safety: pure functions over a constant table.
#ifndef PLUMB_COMMON_TOKENIZER_BYTE_LEVEL_ALPHABET_H_
#define PLUMB_COMMON_TOKENIZER_BYTE_LEVEL_ALPHABET_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace plumb::tokenizer {

// The character that stands for `byte`.
char32_t ByteLevelCodePoint(uint8_t byte);

// The byte that `code_point` stands for, or nullopt when it is outside the alphabet.
std::optional<uint8_t> ByteFromByteLevelCodePoint(char32_t code_point);

// Spells raw bytes in the alphabet (UTF-8 encoded), e.g. "hi there" -> "hiĠthere".
std::string BytesToByteLevel(absl::string_view bytes);

// The inverse: nullopt when `byte_level` is not UTF-8 or holds a character outside the alphabet.
std::optional<std::string> ByteLevelToBytes(absl::string_view byte_level);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_BYTE_LEVEL_ALPHABET_H_
