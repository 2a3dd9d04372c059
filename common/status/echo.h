// Client input repeated in an error message. A message travels in gRPC trailing metadata (8 KiB
// by default): an unbounded echo (a 1 MB tensor name) makes the caller see "metadata size exceeds
// limit" instead of the error, and control characters garble logs. Echo bounds both.
#ifndef PLUMB_COMMON_STATUS_ECHO_H_
#define PLUMB_COMMON_STATUS_ECHO_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace plumb {

// The default number of bytes of a value kept in a message.
inline constexpr size_t kDefaultEchoBytes = 128;

// `value` between `quote`s, with control characters, bytes >= 0x7f, the quote and backslash
// written as \xNN, cut after `max` input bytes with "...(N bytes)" appended so the reader knows
// it was cut.
//   Echo("a\nb")                 -> "\"a\\x0ab\""
//   Echo(10 KB of 'x', 4)        -> "\"xxxx\"...(10240 bytes)"
//   Echo("q.weight", 128, '\'') -> "'q.weight'"
std::string Echo(std::string_view value, size_t max = kDefaultEchoBytes, char quote = '"');

}  // namespace plumb

#endif  // PLUMB_COMMON_STATUS_ECHO_H_
