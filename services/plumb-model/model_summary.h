// Descriptions of a model's config and tokenizer, shared by `init` and `info`: a JSON object
// for scripts and aligned "key: value" lines for people.
//
// Thread safety: pure functions.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_MODEL_SUMMARY_H_
#define PLUMB_SERVICES_PLUMB_MODEL_MODEL_SUMMARY_H_

#include <string>

#include <nlohmann/json.hpp>

#include "common/model/model_config.h"
#include "common/tokenizer/tokenizer.h"

namespace plumb::model_tool {

// The fields under their config.json names, plus head_dim.
nlohmann::ordered_json ConfigToJson(const model::ModelConfig& config);
// {"description", "vocab_size", "bos_id", "eos_id", "pad_id"}; absent roles are null.
nlohmann::ordered_json TokenizerToJson(const tokenizer::Tokenizer& tokenizer);

// One "    name value" line per config field (with a trailing newline).
std::string ConfigText(const model::ModelConfig& config, absl::string_view indent);
// "byte-level BPE, ... (bos 256, eos 257, pad 258)".
std::string TokenizerText(const tokenizer::Tokenizer& tokenizer);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_MODEL_SUMMARY_H_
