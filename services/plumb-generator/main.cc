// plumb-generator: the policy behind plumb.v1.Generator (K sampled responses per prompt with
// per-token log-probs; new weights by LoadWeights, swapped atomically).
//
//   plumb-generator --config configs/services/generator.yaml
//
// Exit status: 0 after a drain on SIGTERM/SIGINT, 1 on a start-up failure, 2 on a usage or
// configuration error.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/metrics/registry.h"
#include "common/model/compute_threads.h"
#include "common/model/hf_checkpoint.h"
#include "common/service/service_args.h"
#include "common/service/service_host.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/weights/versioned_model.h"
#include "services/plumb-generator/generator_options.h"
#include "services/plumb-generator/generator_service.h"

namespace {

int Fail(int code, const absl::Status& status) {
  return plumb::service::ExitWithError("plumb-generator", code, status);
}

int Main(int argc, char** argv) {
  absl::StatusOr<plumb::service::ServiceArgs> args = plumb::service::ParseServiceArgs(
      argc, argv, /*config_required=*/true,
      "plumb-generator: samples K responses per prompt from the policy (plumb.v1.Generator)");
  if (!args.ok()) return Fail(2, args.status());
  if (args->exit_code.has_value()) return *args->exit_code;
  const std::string& config_path = args->config_path;
  plumb::generator::GeneratorOptions options;
  absl::StatusOr<plumb::service::ServiceConfig> config =
      plumb::service::LoadServiceConfig(config_path, [&](plumb::config::ConfigMap& root) {
        return plumb::generator::ParseGeneratorSection(root, args->config_dir, &options);
      });
  if (!config.ok()) return Fail(2, config.status());
  absl::StatusOr<plumb::model::ModelPlacement> placement =
      plumb::model::ParsePlacement(options.dtype, options.device);
  if (!placement.ok()) return Fail(2, placement.status());
  if (args->check_config) return plumb::service::ConfigChecked("plumb-generator", config_path);
  plumb::model::SetComputeThreads(options.threads);
  absl::StatusOr<std::unique_ptr<plumb::weights::VersionedModel>> model =
      plumb::weights::VersionedModel::Load(options.model_path, *placement, options.initial_version);
  if (!model.ok()) return Fail(1, model.status());
  std::shared_ptr<const plumb::tokenizer::Tokenizer> tokenizer;
  if (options.tokenizer != "none") {
    absl::StatusOr<std::unique_ptr<plumb::tokenizer::Tokenizer>> loaded =
        plumb::tokenizer::LoadTokenizer(options.tokenizer.empty() ? options.model_path
                                                                  : options.tokenizer);
    if (!loaded.ok()) return Fail(1, loaded.status());
    tokenizer = *std::move(loaded);
  }
  plumb::metrics::Registry registry;
  absl::StatusOr<std::unique_ptr<plumb::generator::GeneratorCore>> core =
      plumb::generator::GeneratorCore::Create(model->get(), tokenizer, options.limits, &registry);
  if (!core.ok()) return Fail(1, core.status());
  absl::StatusOr<std::unique_ptr<plumb::generator::GeneratorService>> service =
      plumb::generator::GeneratorService::Create(core->get(), &registry, options.device,
                                                 config->server.stream_idle_timeout);
  if (!service.ok()) return Fail(1, service.status());
  return plumb::service::ServeUntilSignal(
      *config, "plumb-generator", {plumb::rpc::Hosted<plumb::v1::Generator>(service->get())},
      &registry);
}

}  // namespace

int main(int argc, char** argv) {
  // The process entry, a last resort: the core's model boundaries convert what model work
  // throws; this catches what start-up code outside them might.
  try {
    return Main(argc, argv);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "plumb-generator: LibTorch: %s\n", e.what_without_backtrace());
    return 1;
  }
}
