// plumb-learner: training sessions behind plumb.v1.Learner (PPO, GRPO, RLOO, REINFORCE,
// rejection-sampling SFT, the DPO family, KTO, ORPO, SimPO, RRHF, SFT and reward-model updates on
// batches sent over gRPC; weights published straight to generators, references and scorers;
// checkpoints), optionally as several data-parallel ranks (RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT
// in the environment; rank 0 serves, the others follow it).
//
//   plumb-learner --config configs/services/learner.yaml
//
// Exit status: 0 after a drain on SIGTERM/SIGINT, 1 on a start-up failure, 2 on a usage or
// configuration error.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "common/metrics/registry.h"
#include "common/model/compute_threads.h"
#include "common/service/service_args.h"
#include "common/service/service_host.h"
#include "common/status/status_macros.h"
#include "services/plumb-learner/learner_config.h"
#include "services/plumb-learner/learner_core.h"
#include "services/plumb-learner/learner_replication.h"
#include "services/plumb-learner/learner_service.h"

namespace {

int Fail(int code, const absl::Status& status) {
  return plumb::service::ExitWithError("plumb-learner", code, status);
}

int Main(int argc, char** argv) {
  absl::StatusOr<plumb::service::ServiceArgs> args = plumb::service::ParseServiceArgs(
      argc, argv, /*config_required=*/false,
      "plumb-learner: trains the policy (PPO, GRPO, DPO family, SFT, reward models...) on "
      "batches sent over RPC and publishes its weights (plumb.v1.Learner)");
  if (!args.ok()) return Fail(2, args.status());
  if (args->exit_code.has_value()) return *args->exit_code;
  plumb::learner::LearnerConfig learner;
  absl::StatusOr<plumb::service::ServiceConfig> config =
      plumb::service::LoadServiceConfig(args->config_path, [&](plumb::config::ConfigMap& root) {
        return plumb::learner::ParseLearnerSection(root, args->config_dir, &learner);
      });
  if (!config.ok()) return Fail(2, config.status());
  absl::StatusOr<plumb::learner::Storage> storage =
      plumb::learner::Storage::Create(learner.storage);
  if (!storage.ok()) return Fail(2, storage.status());
  if (args->check_config) {
    return plumb::service::ConfigChecked(
        "plumb-learner", args->config_path.empty() ? "defaults" : args->config_path);
  }
  const int timeout_seconds = learner.distributed_timeout_seconds;
  plumb::model::SetComputeThreads(learner.threads);
  absl::StatusOr<plumb::train::WorldEnvironment> env = plumb::train::ReadWorldEnvironment();
  if (!env.ok()) return Fail(2, env.status());
  plumb::train::WorldOptions world_options;
  world_options.timeout = std::chrono::seconds(timeout_seconds);
  absl::StatusOr<std::unique_ptr<plumb::train::World>> world =
      plumb::train::World::Join(*env, world_options);
  if (!world.ok()) return Fail(1, world.status());
  plumb::learner::LearnerCore core(*std::move(storage), world->get());
  if ((*world)->rank() != 0) {
    std::fprintf(stderr, "plumb-learner: rank %d of %d following rank 0\n", (*world)->rank(),
                 (*world)->size());
    const absl::Status followed = plumb::learner::FollowRankZero(world->get(), &core);
    if (!followed.ok()) return Fail(1, followed);
    return 0;
  }
  plumb::learner::Replicator replicator(world->get(), absl::Seconds(timeout_seconds) / 4);
  plumb::metrics::Registry registry;
  absl::StatusOr<std::unique_ptr<plumb::learner::LearnerService>> service =
      plumb::learner::LearnerService::Create(
          &core, &registry,
          plumb::learner::PublishOptions{learner.publish_targets, learner.publish_client},
          &replicator);
  if (!service.ok()) return Fail(1, service.status());
  const int code = plumb::service::ServeUntilSignal(
      *config, "plumb-learner", {plumb::rpc::Hosted<plumb::v1::Learner>(service->get())},
      &registry);
  replicator.Shutdown();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  // The process entry, a last resort: the core's model boundaries convert what model work
  // throws; this catches what start-up code outside them might.
  try {
    return Main(argc, argv);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "plumb-learner: LibTorch: %s\n", e.what_without_backtrace());
    return 1;
  }
}
