// The text-pipeline sections of a Hugging Face tokenizer.json: "normalizer", "pre_tokenizer" and
// "decoder", read into PreTokenizerOptions. Internal to hf_tokenizer_json.cc, which documents the
// supported subset.
//
// Thread safety: pure functions.
#ifndef PLUMB_COMMON_TOKENIZER_HF_PIPELINE_JSON_H_
#define PLUMB_COMMON_TOKENIZER_HF_PIPELINE_JSON_H_

#include "absl/status/status.h"
#include "common/tokenizer/json_fields.h"
#include "common/tokenizer/pre_tokenizer.h"

namespace plumb::tokenizer {

// Bounds on each of the three sections: Sequences inside Sequences (real files nest at most 2),
// and steps after flattening (real files have at most ~6).
inline constexpr int kMaxSequenceDepth = 8;
inline constexpr size_t kMaxPipelineSteps = 64;

// Reads root["normalizer"] into options->normalization.
absl::Status ParseHfNormalizer(const json_fields::Json& root, PreTokenizerOptions* options);

// Reads root["pre_tokenizer"] into options->splits and options->add_prefix_space.
absl::Status ParseHfPreTokenizer(const json_fields::Json& root, PreTokenizerOptions* options);

// Checks that root["decoder"] is the byte-level decoder.
absl::Status CheckHfDecoder(const json_fields::Json& root);

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_HF_PIPELINE_JSON_H_
