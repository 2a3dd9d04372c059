#include "services/plumb-learner/learner_config.h"

#include <filesystem>
#include <optional>

#include "common/status/status_macros.h"

namespace plumb::learner {
namespace {

std::string Anchored(const std::string& config_dir, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? path : (std::filesystem::path(config_dir) / p).string();
}

}  // namespace

absl::Status ParseLearnerSection(config::ConfigMap& root, const std::string& config_dir,
                                 LearnerConfig* config) {
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> section, root.Child("learner"));
  if (!section.has_value()) return absl::OkStatus();
  RETURN_IF_ERROR(section->Read("threads", &config->threads, config::IntRange{0, 1024}));
  RETURN_IF_ERROR(section->Read("distributed_timeout_seconds", &config->distributed_timeout_seconds,
                                config::IntRange{4, 86400}));
  if (section->Has("checkpoint_root")) {
    std::string path;
    RETURN_IF_ERROR(section->Read("checkpoint_root", &path));
    if (path.empty()) return section->Error("checkpoint_root", "must not be empty");
    config->storage.checkpoint_root = Anchored(config_dir, path);
  }
  std::vector<std::string> roots;
  RETURN_IF_ERROR(section->Read("model_roots", &roots));
  for (const std::string& path : roots) {
    if (path.empty()) return section->Error("model_roots", "an empty path");
    config->storage.model_roots.push_back(Anchored(config_dir, path));
  }
  RETURN_IF_ERROR(section->Read("publish_targets", &config->publish_targets));
  for (const std::string& target : config->publish_targets) {
    if (target.empty()) return section->Error("publish_targets", "an empty target");
  }
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> client, section->Child("publish_client"));
  if (client.has_value()) {
    RETURN_IF_ERROR(rpc::ParseChannelOptions(*client, &config->publish_client));
    if (!config->publish_client.target.empty()) {
      return section->Error("publish_client",
                            "'target' is not used here: list the endpoints in publish_targets");
    }
  }
  return section->Finish();
}

}  // namespace plumb::learner
