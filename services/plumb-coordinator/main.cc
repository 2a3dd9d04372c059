// plumb-coordinator: accepts alignment jobs (plumb.v1.Coordinator), keeps them in SQLite, and
// runs them on the generator, scorer, reference and learner workers it knows.
//
//   plumb-coordinator --config configs/services/coordinator.yaml
//
// Exit status: 0 after a drain on SIGTERM/SIGINT (running jobs stay RUNNING and resume at the
// next start), 1 on a start-up failure (e.g. an unusable state database), 2 on a usage or
// configuration error.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "common/metrics/registry.h"
#include "common/service/service_args.h"
#include "common/service/service_host.h"
#include "services/plumb-coordinator/coordinator_core.h"
#include "services/plumb-coordinator/coordinator_metrics.h"
#include "services/plumb-coordinator/coordinator_options.h"
#include "services/plumb-coordinator/coordinator_service.h"
#include "services/plumb-coordinator/grpc_client_factory.h"
#include "services/plumb-coordinator/job_store.h"
#include "services/plumb-coordinator/worker_pool.h"

namespace {

int Fail(int code, const absl::Status& status) {
  return plumb::service::ExitWithError("plumb-coordinator", code, status);
}

bool IsLoopback(const std::string& address) {
  return absl::StartsWith(address, "127.") || absl::StartsWith(address, "localhost:") ||
         absl::StartsWith(address, "[::1]:");
}

int Main(int argc, char** argv) {
  using namespace plumb::coordinator;  // NOLINT: one main
  absl::StatusOr<plumb::service::ServiceArgs> args = plumb::service::ParseServiceArgs(
      argc, argv, /*config_required=*/true,
      "plumb-coordinator: alignment jobs over the worker pool (plumb.v1.Coordinator)");
  if (!args.ok()) return Fail(2, args.status());
  if (args->exit_code.has_value()) return *args->exit_code;
  CoordinatorConfig options;
  absl::StatusOr<plumb::service::ServiceConfig> config =
      plumb::service::LoadServiceConfig(args->config_path, [&](plumb::config::ConfigMap& root) {
        return ParseCoordinatorSection(root, args->config_dir, &options);
      });
  if (!config.ok()) return Fail(2, config.status());
  if (!options.users.empty() && !config->server.tls.has_value() &&
      !IsLoopback(config->server.address)) {
    return Fail(2, absl::InvalidArgumentError(
                       "coordinator.users_file: tokens over plaintext can be read off the "
                       "network; add server.tls, or listen on a loopback address"));
  }
  if (args->check_config)
    return plumb::service::ConfigChecked("plumb-coordinator", args->config_path);

  absl::StatusOr<std::unique_ptr<JobStore>> store = JobStore::Open(options.state_path);
  if (!store.ok()) return Fail(1, store.status());
  WorkerPool pool(options.heartbeat_interval, options.lease_duration);
  for (const std::string& e : options.generators) pool.AddStatic(WorkerRole::kGenerator, e);
  for (const std::string& e : options.scorers) pool.AddStatic(WorkerRole::kScorer, e);
  for (const std::string& e : options.references) pool.AddStatic(WorkerRole::kReference, e);
  for (const std::string& e : options.learners) pool.AddStatic(WorkerRole::kLearner, e);
  GrpcClientFactory clients(options.client);

  plumb::metrics::Registry registry;
  absl::StatusOr<std::unique_ptr<CoordinatorMetrics>> metrics =
      CoordinatorMetrics::Create(&registry, store->get(), &pool);
  if (!metrics.ok()) return Fail(1, metrics.status());
  SpecPolicy policy;
  policy.data_roots = options.data_roots;
  policy.checkpoint_roots = options.checkpoint_roots;
  policy.job_root = options.job_root;
  CoordinatorCore core(
      store->get(), &pool, &clients,
      [policy](const std::string& spec) {
        return CoordinatorService::DecodeStoredSpec(spec, policy);
      },
      [&clients](WorkerRole role, const std::string& endpoint) {
        return clients.Probe(role, endpoint);
      },
      CoordinatorOptions{.max_queued_jobs = options.max_queued_jobs,
                         .probe_interval = options.probe_interval,
                         .job_root = options.job_root,
                         .metrics = metrics->get()});
  core.Start();
  CoordinatorService service(&core, policy, options.users);
  const int code = plumb::service::ServeUntilSignal(
      *config, "plumb-coordinator", {plumb::rpc::Hosted<plumb::v1::Coordinator>(&service)},
      &registry);
  core.Stop();
  return code;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
