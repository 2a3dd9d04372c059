#include "services/plumb-model/model_folder.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/hf_config.h"
#include "common/tokenizer/load_tokenizer.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {

absl::Status CheckModelFolder(const std::filesystem::path& dir) {
  std::error_code error;
  const auto status = std::filesystem::status(dir, error);
  if (!std::filesystem::exists(status)) {
    return absl::NotFoundError(
        absl::StrCat(dir.string(), ": no such folder (create a model with `plumb-model init --out ",
                     dir.string(), "`)"));
  }
  if (!std::filesystem::is_directory(status)) {
    return absl::FailedPreconditionError(absl::StrCat(
        dir.string(), ": not a folder; a model is a folder holding config.json and the weights"));
  }
  if (!std::filesystem::exists(dir / checkpoint::kHfConfigFileName, error)) {
    return absl::NotFoundError(absl::StrCat(
        dir.string(),
        ": no config.json (is this a model folder? create one with `plumb-model init`)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<model::ModelConfig> ReadModelFolderConfig(const std::filesystem::path& dir) {
  if (absl::Status status = CheckModelFolder(dir); !status.ok()) return status;
  return checkpoint::ReadHfConfig(dir / checkpoint::kHfConfigFileName);
}

absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> LoadModelFolderTokenizer(
    const std::filesystem::path& dir) {
  auto loaded = tokenizer::LoadTokenizer(dir.string());
  if (loaded.ok() || !absl::IsNotFound(loaded.status())) return loaded;
  return absl::NotFoundError(absl::StrCat(
      dir.string(),
      ": no tokenizer (tokenizer.json, or encoder.json + vocab.bpe); copy one into the folder or "
      "give token ids (--prompt-ids, --response-ids) instead of text"));
}

void AddRuntimeFlags(CLI::App& app, RuntimeOptions* options) {
  app.add_option("--dtype", options->dtype, "Weights and compute type: float32 or bfloat16")
      ->capture_default_str();
  app.add_option("--device", options->device, "cpu, or cuda / cuda:N with a CUDA LibTorch")
      ->capture_default_str();
  app.add_option("--threads", options->threads, "LibTorch CPU threads (0 = all cores)")
      ->capture_default_str();
}

absl::StatusOr<model::ModelPlacement> ParseRuntimeOptions(const RuntimeOptions& runtime) {
  if (runtime.threads < 0) {
    return UsageError(absl::StrCat("--threads must be >= 0, got ", runtime.threads));
  }
  absl::StatusOr<model::ModelPlacement> placement =
      model::ParsePlacement(runtime.dtype, runtime.device);
  if (!placement.ok()) return AsUsageError(placement.status());
  return placement;
}

absl::StatusOr<model::Transformer> LoadModelForInference(const std::filesystem::path& dir,
                                                         const RuntimeOptions& runtime) {
  absl::StatusOr<model::ModelPlacement> placement = ParseRuntimeOptions(runtime);
  if (!placement.ok()) return placement.status();
  if (absl::Status status = CheckModelFolder(dir); !status.ok()) return status;
  if (runtime.threads > 0) at::set_num_threads(runtime.threads);
  return model::LoadHfModel(dir, *placement);
}

}  // namespace plumb::model_tool
