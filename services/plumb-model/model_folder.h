// Model folders as plumb-model reads them: config.json, safetensors weights (one file or shards
// with an index) and tokenizer files, all in one directory (Hugging Face's layout).
//
// Errors say what is missing and how to fix it, e.g.
//   "/x: no config.json (is this a model folder? create one with `plumb-model init`)".
//
// Thread safety: functions run on the caller's thread; a loaded model belongs to that thread.
#ifndef PLUMB_SERVICES_PLUMB_MODEL_MODEL_FOLDER_H_
#define PLUMB_SERVICES_PLUMB_MODEL_MODEL_FOLDER_H_

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/model_config.h"
#include "common/model/transformer.h"
#include "common/tokenizer/tokenizer.h"

namespace CLI {
class App;
}  // namespace CLI

namespace plumb::model_tool {

// NOT_FOUND when `dir` does not exist or has no config.json; FAILED_PRECONDITION when it is not a
// directory.
absl::Status CheckModelFolder(const std::filesystem::path& dir);

// CheckModelFolder, then config.json parsed and validated.
absl::StatusOr<model::ModelConfig> ReadModelFolderConfig(const std::filesystem::path& dir);

// The tokenizer files of the folder (tokenizer.json, or GPT-2's encoder.json + vocab.bpe).
absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> LoadModelFolderTokenizer(
    const std::filesystem::path& dir);

// Where and how a model runs (the --dtype, --device and --threads flags).
struct RuntimeOptions {
  std::string dtype = "float32";
  std::string device = "cpu";
  int threads = 0;  // LibTorch intra-op threads; 0 = LibTorch's default
};
void AddRuntimeFlags(CLI::App& app, RuntimeOptions* options);

// The placement `runtime` names; a usage error when a value is bad. Loads nothing.
absl::StatusOr<model::ModelPlacement> ParseRuntimeOptions(const RuntimeOptions& runtime);

// Loads the weights of `dir` for inference (eval mode) as `runtime` says. LibTorch errors come
// back as a Status naming the folder.
absl::StatusOr<model::Transformer> LoadModelForInference(const std::filesystem::path& dir,
                                                         const RuntimeOptions& runtime);

}  // namespace plumb::model_tool

#endif  // PLUMB_SERVICES_PLUMB_MODEL_MODEL_FOLDER_H_
