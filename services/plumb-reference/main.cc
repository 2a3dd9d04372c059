// plumb-reference: the frozen reference policy behind plumb.v1.Reference (per-token log-probs of
// given responses; new weights by LoadWeights).
//
//   plumb-reference --config configs/services/reference.yaml
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
#include "services/plumb-reference/reference_options.h"
#include "services/plumb-reference/reference_service.h"

namespace {

int Fail(int code, const absl::Status& status) {
  return plumb::service::ExitWithError("plumb-reference", code, status);
}

int Main(int argc, char** argv) {
  absl::StatusOr<plumb::service::ServiceArgs> args =
      plumb::service::ParseServiceArgs(argc, argv, /*config_required=*/true,
                                       "plumb-reference: per-token log-probs under the frozen "
                                       "reference policy (plumb.v1.Reference)");
  if (!args.ok()) return Fail(2, args.status());
  if (args->exit_code.has_value()) return *args->exit_code;
  const std::string& config_path = args->config_path;
  plumb::reference::ReferenceOptions options;
  absl::StatusOr<plumb::service::ServiceConfig> config =
      plumb::service::LoadServiceConfig(config_path, [&](plumb::config::ConfigMap& root) {
        return plumb::reference::ParseReferenceSection(root, args->config_dir, &options);
      });
  if (!config.ok()) return Fail(2, config.status());
  absl::StatusOr<plumb::model::ModelPlacement> placement =
      plumb::model::ParsePlacement(options.dtype, options.device);
  if (!placement.ok()) return Fail(2, placement.status());
  if (args->check_config) return plumb::service::ConfigChecked("plumb-reference", config_path);
  plumb::model::SetComputeThreads(options.threads);
  absl::StatusOr<std::unique_ptr<plumb::weights::VersionedModel>> model =
      plumb::weights::VersionedModel::Load(options.model_path, *placement, options.initial_version);
  if (!model.ok()) return Fail(1, model.status());
  std::shared_ptr<const plumb::tokenizer::Tokenizer> tokenizer;
  const bool folder_has_tokenizer =
      std::filesystem::exists(std::filesystem::path(options.model_path) / "tokenizer.json");
  if (options.tokenizer != "none" && (!options.tokenizer.empty() || folder_has_tokenizer)) {
    absl::StatusOr<std::unique_ptr<plumb::tokenizer::Tokenizer>> loaded =
        plumb::tokenizer::LoadTokenizer(options.tokenizer.empty() ? options.model_path
                                                                  : options.tokenizer);
    if (!loaded.ok()) return Fail(1, loaded.status());
    tokenizer = *std::move(loaded);
  }
  plumb::metrics::Registry registry;
  absl::StatusOr<std::unique_ptr<plumb::reference::ReferenceCore>> core =
      plumb::reference::ReferenceCore::Create(model->get(), tokenizer, options.limits, &registry);
  if (!core.ok()) return Fail(1, core.status());
  absl::StatusOr<std::unique_ptr<plumb::reference::ReferenceService>> service =
      plumb::reference::ReferenceService::Create(core->get(), &registry, options.device,
                                                 config->server.stream_idle_timeout);
  if (!service.ok()) return Fail(1, service.status());
  return plumb::service::ServeUntilSignal(
      *config, "plumb-reference", {plumb::rpc::Hosted<plumb::v1::Reference>(service->get())},
      &registry);
}

}  // namespace

int main(int argc, char** argv) {
  // The process entry, a last resort: the core's model boundaries convert what model work
  // throws; this catches what start-up code outside them might.
  try {
    return Main(argc, argv);
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "plumb-reference: LibTorch: %s\n", e.what_without_backtrace());
    return 1;
  }
}
