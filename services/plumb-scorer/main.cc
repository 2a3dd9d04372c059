// plumb-scorer: reward objectives behind plumb.v1.RewardScorer (per-objective scores, the composed
// reward, a Bradley-Terry judge; new reward-model weights by LoadWeights).
//
//   plumb-scorer --config configs/services/scorer.yaml
//
// Exit status: 0 after a drain on SIGTERM/SIGINT, 1 on a start-up failure, 2 on a usage or
// configuration error.
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "common/metrics/registry.h"
#include "common/service/service_host.h"
#include "common/status/status_macros.h"
#include "services/plumb-scorer/scorer.h"
#include "services/plumb-scorer/scorer_options.h"
#include "services/plumb-scorer/scorer_service.h"

namespace {

int Fail(int code, const absl::Status& status) {
  std::fprintf(stderr, "plumb-scorer: %s\n", std::string(status.message()).c_str());
  return code;
}

int Main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s --config FILE\n", argv[0]);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "usage: %s --config FILE (its scorer: section is required)\n", argv[0]);
    return 2;
  }
  const std::string base = std::filesystem::path(config_path).parent_path().string();
  std::optional<plumb::scorer::ScorerOptions> options;
  absl::StatusOr<plumb::service::ServiceConfig> config = plumb::service::LoadServiceConfig(
      config_path, [&](plumb::config::ConfigMap& root) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<plumb::config::ConfigMap> section, root.Child("scorer"));
        if (!section.has_value()) return root.Error("scorer", "is required (scorer.objectives)");
        ASSIGN_OR_RETURN(options,
                         plumb::scorer::ParseScorerOptions(*section, base.empty() ? "." : base));
        return absl::OkStatus();
      });
  if (!config.ok()) return Fail(2, config.status());
  absl::StatusOr<std::unique_ptr<plumb::scorer::Scorer>> scorer =
      plumb::scorer::Scorer::Create(*options);
  if (!scorer.ok()) return Fail(1, scorer.status());
  plumb::metrics::Registry registry;
  plumb::scorer::ScorerService service(scorer->get(), &registry);
  absl::StatusOr<std::unique_ptr<plumb::service::ServiceHost>> host =
      plumb::service::ServiceHost::Start(*config, "plumb-scorer",
                                         {plumb::rpc::Hosted<plumb::v1::RewardScorer>(&service)},
                                         &registry);
  if (!host.ok()) return Fail(1, host.status());
  return (*host)->RunUntilSignal();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "plumb-scorer: LibTorch: %s\n", e.what_without_backtrace());
    return 1;
  }
}
