#include "services/plumb-generator/generator_options.h"

#include <filesystem>
#include <optional>

#include "common/status/status_macros.h"

namespace plumb::generator {
namespace {

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path == "byte" || path == "none" ||
      std::filesystem::path(path).is_absolute()) {
    return path;
  }
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

}  // namespace

absl::Status ParseGeneratorSection(config::ConfigMap& root, const std::string& base_dir,
                                   GeneratorOptions* o) {
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> section, root.Child("generator"));
  if (!section.has_value()) {
    return root.Error("generator", "is required (generator.model.path: the policy folder)");
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> model, section->Child("model"));
  if (!model.has_value()) return section->Error("model", "is required (model.path)");
  RETURN_IF_ERROR(model->Read("path", &o->model_path));
  if (o->model_path.empty()) return model->Error("path", "is required: the policy folder to serve");
  o->model_path = Resolve(base_dir, o->model_path);
  RETURN_IF_ERROR(model->ReadChoice("dtype", &o->dtype, {"float32", "fp32", "bfloat16", "bf16"}));
  RETURN_IF_ERROR(model->Read("device", &o->device));
  RETURN_IF_ERROR(model->Read("tokenizer", &o->tokenizer));
  o->tokenizer = Resolve(base_dir, o->tokenizer);
  RETURN_IF_ERROR(model->Finish());
  int64_t version = 0;
  RETURN_IF_ERROR(section->Read("initial_version", &version, config::IntRange{0}));
  o->initial_version = static_cast<uint64_t>(version);
  RETURN_IF_ERROR(section->Read("threads", &o->threads, config::IntRange{0, 1024}));
  GeneratorLimits& l = o->limits;
  RETURN_IF_ERROR(section->Read("max_prompts_per_request", &l.max_prompts_per_request,
                                config::IntRange{1, 1 << 20}));
  RETURN_IF_ERROR(section->Read("max_num_samples", &l.max_num_samples, config::IntRange{1, 4096}));
  RETURN_IF_ERROR(section->Read("max_sequences_per_request", &l.max_sequences_per_request,
                                config::IntRange{1, 1 << 24}));
  RETURN_IF_ERROR(
      section->Read("max_new_tokens_limit", &l.max_new_tokens_limit, config::IntRange{1, 1 << 20}));
  RETURN_IF_ERROR(section->Read("default_max_new_tokens", &l.default_max_new_tokens,
                                config::IntRange{1, 1 << 20}));
  RETURN_IF_ERROR(section->Read("max_batch_size", &l.max_batch_size, config::IntRange{1, 1 << 16}));
  RETURN_IF_ERROR(section->Read("queue_capacity", &l.queue_capacity, config::IntRange{1, 1 << 24}));
  RETURN_IF_ERROR(
      section->Read("priority_aging_ms", &l.priority_aging_ms, config::IntRange{1, 3600000}));
  if (l.default_max_new_tokens > l.max_new_tokens_limit) {
    return section->Error("default_max_new_tokens", "must not exceed max_new_tokens_limit");
  }
  return section->Finish();
}

}  // namespace plumb::generator
