// The byte tokenizer (common/tokenizer/byte_tokenizer.h) written as Hugging Face files, so a
// model folder made by `plumb-model init` carries its tokenizer in the standard format.
//
// tokenizer.json: a byte-level BPE whose vocabulary is the 256 byte-level alphabet characters as
// ids 0..255 in byte order, no merges, a ByteLevel pre-tokenizer without regex or prefix space
// (so every byte is its own token), and the special added tokens <bos>=256, <eos>=257,
// <pad>=258. tokenizer_config.json names them as bos/eos/pad. Loaded through LoadTokenizer, it
// encodes and decodes every text exactly as ByteTokenizer does.
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_BYTE_TOKENIZER_JSON_H_
#define PLUMB_SERVICES_PLUMB_MODEL_BYTE_TOKENIZER_JSON_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace plumb::model_tool {

std::string ByteTokenizerJson();
std::string ByteTokenizerConfigJson();

// Writes tokenizer.json and tokenizer_config.json into `dir` (which must exist).
absl::Status WriteByteTokenizerFiles(const std::filesystem::path& dir);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_BYTE_TOKENIZER_JSON_H_
