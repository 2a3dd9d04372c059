// The value checks every service adapter runs on a request before converting it: a hostile or
// careless client must not reach a core with NaN, infinities or an enum number the API does not
// declare (proto3 keeps unknown enum numbers as plain integers).
#ifndef PLUMB_COMMON_RPC_MESSAGE_CHECKS_H_
#define PLUMB_COMMON_RPC_MESSAGE_CHECKS_H_

#include <google/protobuf/map.h>

#include <cstddef>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace google::protobuf {
class Message;
}

namespace plumb::rpc {

// Walks every field set in `message`, nested messages and repeated fields included: each float
// and double must be finite, each enum must hold a value its enum type declares. Returns
// INVALID_ARGUMENT naming the first bad field by its path from `root`, e.g.
// "request.config.ppo.gamma: must be finite (got nan)" or "request.experiences[3].finish_reason:
// 7 is not a FinishReason value". Map fields are checked like repeated messages. Cost is linear in
// the message size; nesting is bounded by protobuf's parser (depth 100).
absl::Status CheckMessageValues(const google::protobuf::Message& message, absl::string_view root);

// A documented bound on a string map (prompt metadata, labels): at most `max_entries` entries,
// keys of 1..max_key_bytes bytes, values of at most max_value_bytes. INVALID_ARGUMENT names the
// path and the offending key (cut to a safe length).
// common.proto Prompt.metadata's documented bounds: 32 entries, keys 1..64 bytes, values <= 1024.
absl::Status CheckPromptMetadata(const google::protobuf::Map<std::string, std::string>& metadata,
                                 absl::string_view path);

absl::Status CheckStringMap(const google::protobuf::Map<std::string, std::string>& map,
                            absl::string_view path, size_t max_entries, size_t max_key_bytes,
                            size_t max_value_bytes);

}  // namespace plumb::rpc

#endif  // PLUMB_COMMON_RPC_MESSAGE_CHECKS_H_
