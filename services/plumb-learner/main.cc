// plumb-learner: training sessions behind plumb.v1.Learner (PPO, rejection-sampling SFT, the DPO
// family and SFT updates on batches sent over gRPC; weights published straight to generators,
// references and scorers; checkpoints).
//
//   plumb-learner --config configs/services/learner.yaml
//
// Exit status: 0 after a drain on SIGTERM/SIGINT, 1 on a start-up failure, 2 on a usage or
// configuration error.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "common/metrics/registry.h"
#include "common/service/service_args.h"
#include "common/service/service_host.h"
#include "common/status/status_macros.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_service.h"

namespace {

int Fail(int code, const absl::Status& status) {
  return plumb::service::ExitWithError("plumb-learner", code, status);
}

int Main(int argc, char** argv) {
  absl::StatusOr<plumb::service::ServiceArgs> args =
      plumb::service::ParseServiceArgs(argc, argv, /*config_required=*/false);
  if (!args.ok()) return Fail(2, args.status());
  const std::string& config_path = args->config_path;
  int threads = 0;
  absl::StatusOr<plumb::service::ServiceConfig> config = plumb::service::LoadServiceConfig(
      config_path, [&](plumb::config::ConfigMap& root) -> absl::Status {
        ASSIGN_OR_RETURN(std::optional<plumb::config::ConfigMap> section, root.Child("learner"));
        if (!section.has_value()) return absl::OkStatus();
        RETURN_IF_ERROR(section->Read("threads", &threads, plumb::config::IntRange{0, 1024}));
        return section->Finish();
      });
  if (!config.ok()) return Fail(2, config.status());
  if (threads > 0) at::set_num_threads(threads);
  plumb::metrics::Registry registry;
  plumb::learner::LearnerCore core;
  plumb::learner::LearnerService service(&core, &registry);
  return plumb::service::ServeUntilSignal(
      *config, "plumb-learner", {plumb::rpc::Hosted<plumb::v1::Learner>(&service)}, &registry);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "plumb-learner: LibTorch: %s\n", e.what_without_backtrace());
    return 1;
  }
}
