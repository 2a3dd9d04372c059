#include "services/plumb-reference/reference_options.h"

#include <filesystem>
#include <optional>

#include "common/status/status_macros.h"

namespace plumb::reference {

absl::Status ParseReferenceSection(config::ConfigMap& root, const std::string& base_dir,
                                   ReferenceOptions* o) {
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> section, root.Child("reference"));
  if (!section.has_value()) {
    return root.Error("reference", "is required (reference.model.path: the model folder)");
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> model, section->Child("model"));
  if (!model.has_value()) return section->Error("model", "is required (model.path)");
  RETURN_IF_ERROR(model->Read("path", &o->model_path));
  if (o->model_path.empty()) return model->Error("path", "is required: the model folder to serve");
  if (!std::filesystem::path(o->model_path).is_absolute()) {
    o->model_path = (std::filesystem::path(base_dir) / o->model_path).lexically_normal().string();
  }
  RETURN_IF_ERROR(model->ReadChoice("dtype", &o->dtype, {"float32", "fp32", "bfloat16", "bf16"}));
  RETURN_IF_ERROR(model->Read("device", &o->device));
  RETURN_IF_ERROR(model->Read("tokenizer", &o->tokenizer));
  if (!o->tokenizer.empty() && o->tokenizer != "none" && o->tokenizer != "byte" &&
      !std::filesystem::path(o->tokenizer).is_absolute()) {
    o->tokenizer = (std::filesystem::path(base_dir) / o->tokenizer).lexically_normal().string();
  }
  RETURN_IF_ERROR(model->Finish());
  int64_t version = 0;
  RETURN_IF_ERROR(section->Read("initial_version", &version, config::IntRange{0}));
  o->initial_version = static_cast<uint64_t>(version);
  RETURN_IF_ERROR(section->Read("threads", &o->threads, config::IntRange{0, 1024}));
  RETURN_IF_ERROR(section->Read("max_items_per_request", &o->limits.max_items_per_request,
                                config::IntRange{1, 1 << 20}));
  RETURN_IF_ERROR(section->Read("max_tokens_per_request", &o->limits.max_tokens_per_request,
                                config::IntRange{1, int64_t{1} << 40}));
  RETURN_IF_ERROR(
      section->Read("max_batch_size", &o->limits.max_batch_size, config::IntRange{1, 1 << 16}));
  RETURN_IF_ERROR(section->Read("max_queued_requests", &o->limits.max_queued_requests,
                                config::IntRange{1, 1 << 20}));
  return section->Finish();
}

}  // namespace plumb::reference
