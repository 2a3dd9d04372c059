// plumb-train: offline alignment training in one process (or one process per data-parallel rank,
// started like torchrun: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). The job's kind and every
// setting come from a YAML file; see common/train/train_options.h and configs/train/.
//
// Exit status: 0 trained, 1 failed, 2 usage or configuration error.
#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/service/malloc_tuning.h"
#include "common/train/distributed.h"
#include "common/train/train_options.h"
#include "common/train/trainer.h"

namespace {

int Fail(int code, const absl::Status& status) {
  std::cerr << "plumb-train: " << status.message() << "\n";
  return code;
}

int Main(int argc, char** argv) {
  CLI::App app(
      "Train a model with one alignment objective (sft, reward_model, dpo, kto, orpo, simpo, "
      "rrhf) from a YAML job file. Resumes from the newest checkpoint in checkpoint.dir.",
      "plumb-train");
  std::string config_path;
  std::optional<int64_t> stop_at_step;
  app.add_option("config", config_path, "The job's YAML file")->required();
  app.add_option("--stop-at-step", stop_at_step,
                 "Write a checkpoint and exit after this optimizer step (as a preemption would)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  absl::StatusOr<plumb::train::TrainOptions> options = plumb::train::ReadTrainOptions(config_path);
  if (!options.ok()) return Fail(2, options.status());
  absl::StatusOr<plumb::train::WorldEnvironment> env = plumb::train::ReadWorldEnvironment();
  if (!env.ok()) return Fail(2, env.status());
  absl::StatusOr<std::unique_ptr<plumb::train::World>> world =
      plumb::train::World::Join(*env, options->distributed);
  if (!world.ok()) return Fail(1, world.status());
  absl::StatusOr<std::unique_ptr<plumb::train::Trainer>> trainer =
      plumb::train::Trainer::Create(*std::move(options), world->get());
  if (!trainer.ok()) return Fail(1, trainer.status());
  absl::StatusOr<plumb::train::TrainResult> result = (*trainer)->Run(stop_at_step);
  if (!result.ok()) return Fail(1, result.status());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  plumb::service::TuneMallocForLargeBuffers();  // reuse freed activations (malloc_tuning.h)
  // The process entry, a last resort: the core's model boundaries convert what model work
  // throws; this catches what start-up code outside them might.
  try {
    return Main(argc, argv);
  } catch (const c10::Error& e) {
    std::cerr << "plumb-train: LibTorch: " << e.what_without_backtrace() << "\n";
    return 1;
  }
}
