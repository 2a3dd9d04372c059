#include "services/plumb-scorer/objective_kind.h"

#include <algorithm>

namespace plumb::scorer {

absl::Status ObjectiveKindRegistry::Add(std::shared_ptr<const ScoringObjectiveKind> kind) {
  if (kind == nullptr || kind->name.empty() || !kind->parse || !kind->validate || !kind->create) {
    return absl::InvalidArgumentError(
        "an objective kind needs a name, parse, validate and create (see MakeObjectiveKind)");
  }
  if (Find(kind->name) != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("objective kind '", kind->name, "' is registered already"));
  }
  names_.push_back(kind->name);
  kinds_.push_back(std::move(kind));
  return absl::OkStatus();
}

std::shared_ptr<const ScoringObjectiveKind> ObjectiveKindRegistry::Find(
    absl::string_view name) const {
  auto found = std::find_if(kinds_.begin(), kinds_.end(),
                            [&](const auto& kind) { return kind->name == name; });
  return found == kinds_.end() ? nullptr : *found;
}

std::string ResolveConfigPath(absl::string_view base_dir, const std::string& path) {
  if (base_dir.empty() || path.empty() || path.front() == '/' || path == "byte") return path;
  if (base_dir.back() == '/') return absl::StrCat(base_dir, path);
  return absl::StrCat(base_dir, "/", path);
}

absl::Status RequireKey(const config::ConfigMap& m, absl::string_view key,
                        absl::string_view example) {
  if (m.Has(key)) return absl::OkStatus();
  return m.Error(key, absl::StrCat("missing; add e.g. `", example, "`"));
}

}  // namespace plumb::scorer
