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
#include "common/model/compute_threads.h"
#include "common/service/service_args.h"
#include "common/service/service_host.h"
#include "common/status/status_macros.h"
#include "services/plumb-scorer/scorer.h"
#include "services/plumb-scorer/scorer_options.h"
#include "services/plumb-scorer/scorer_service.h"

namespace {

int Fail(int code, const absl::Status& status) {
  return plumb::service::ExitWithError("plumb-scorer", code, status);
}

int Main(int argc, char** argv) {
  absl::StatusOr<plumb::service::ServiceArgs> args =
      plumb::service::ParseServiceArgs(argc, argv, /*config_required=*/true,
                                       "plumb-scorer: scores responses with reward models and rule "
                                       "objectives (plumb.v1.RewardScorer)");
  if (!args.ok()) return Fail(2, args.status());
  if (args->exit_code.has_value()) return *args->exit_code;
  const std::string& config_path = args->config_path;
  std::optional<plumb::scorer::ScorerOptions> options;
  absl::StatusOr<plumb::service::ServiceConfig> config = plumb::service::LoadServiceConfig(
      config_path, [&](plumb::config::ConfigMap& root) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<plumb::config::ConfigMap> section, root.Child("scorer"));
        if (!section.has_value()) return root.Error("scorer", "is required (scorer.objectives)");
        ASSIGN_OR_RETURN(options, plumb::scorer::ParseScorerOptions(*section, args->config_dir));
        return absl::OkStatus();
      });
  if (!config.ok()) return Fail(2, config.status());
  if (args->check_config) return plumb::service::ConfigChecked("plumb-scorer", config_path);
  plumb::model::SetComputeThreads(options->threads);
  absl::StatusOr<std::unique_ptr<plumb::scorer::Scorer>> scorer =
      plumb::scorer::Scorer::Create(*options);
  if (!scorer.ok()) return Fail(1, scorer.status());
  plumb::metrics::Registry registry;
  absl::StatusOr<std::unique_ptr<plumb::scorer::ScorerService>> service =
      plumb::scorer::ScorerService::Create(scorer->get(), &registry, /*max_pairs_per_request=*/512,
                                           config->server.stream_idle_timeout);
  if (!service.ok()) return Fail(1, service.status());
  return plumb::service::ServeUntilSignal(
      *config, "plumb-scorer", {plumb::rpc::Hosted<plumb::v1::RewardScorer>(service->get())},
      &registry);
}

}  // namespace

int main(int argc, char** argv) {
  // The process entry, a last resort: the core's model boundaries convert what model work
  // throws; this catches what start-up code outside them might.
  try {
    return Main(argc, argv);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "plumb-scorer: LibTorch: %s\n", e.what_without_backtrace());
    return 1;
  }
}
