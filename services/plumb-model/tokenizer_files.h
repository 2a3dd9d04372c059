// Putting a tokenizer into a model folder: the byte tokenizer's generated files, or a copy of
// the files a tokenizer path names, chosen exactly as LoadTokenizer chooses them (a
// tokenizer.json with its tokenizer_config.json, or GPT-2's encoder.json + vocab.bpe).
//
// Thread safety: functions of the file system only.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_TOKENIZER_FILES_H_
#define PLUMB_SERVICES_PLUMB_MODEL_TOKENIZER_FILES_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"

namespace plumb::model_tool {

// Writes or copies the tokenizer `source` ("byte" or a path) into `dir`, which must exist.
absl::Status InstallTokenizerFiles(const std::string& source, const std::filesystem::path& dir);

// A usage error when the files of `source` live in `dir` itself (init would replace them).
absl::Status CheckTokenizerSourceOutside(const std::string& source,
                                         const std::filesystem::path& dir);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_TOKENIZER_FILES_H_
