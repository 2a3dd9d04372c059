#include "common/weights/weight_load.h"

#include <utility>

#include "common/status/status_macros.h"
#include "common/status/torch_status.h"

namespace plumb::weights {

WeightLoad::WeightLoad(VersionedModel& model, std::string name)
    : resolve_([&model](const std::string&) -> absl::StatusOr<VersionedModel*> { return &model; }),
      name_(std::move(name)),
      receiver_([this](const WeightManifest& manifest) { return Begin(manifest); }) {}

WeightLoad::WeightLoad(ModelResolver resolve)
    : resolve_(std::move(resolve)),
      receiver_([this](const WeightManifest& manifest) { return Begin(manifest); }) {}

WeightLoad::~WeightLoad() = default;

absl::StatusOr<WeightTarget> WeightLoad::Begin(const WeightManifest& manifest) {
  ASSIGN_OR_RETURN(VersionedModel * model, resolve_(manifest.model));
  ASSIGN_OR_RETURN(staging_, model->BeginLoad());
  model_ = model;
  WeightTarget target = model->Target(name_.value_or(manifest.model));
  VersionedModel::Staging* stage = staging_.get();
  target.destinations = [stage](const WeightManifest& m) { return stage->Destinations(m); };
  return target;
}

absl::Status WeightLoad::Add(const WeightMessage& message) {
  // The stream's model boundary (the receiver allocates and checks tensors): nothing it throws
  // reaches the LoadWeights handler.
  absl::Status status = TorchBoundary("receiving weights", [&] { return receiver_.Add(message); });
  // A failed load frees the model at once (the dead receiver writes nothing more into staging).
  if (!status.ok()) staging_.reset();
  return status;
}

absl::StatusOr<LoadResult> WeightLoad::Finish() {
  absl::StatusOr<ReceivedWeights> received =
      TorchBoundary("receiving weights", [&] { return receiver_.Finish(); });
  if (!received.ok()) {
    staging_.reset();
    return received.status();
  }
  const ReceivedWeights& weights = *received;
  ASSIGN_OR_RETURN(const uint64_t previous, model_->Commit(std::move(staging_), weights));
  return LoadResult{.version = weights.version,
                    .previous_version = previous,
                    .bytes = weights.bytes,
                    .tensors = weights.tensors.size(),
                    .seconds = weights.seconds};
}

}  // namespace plumb::weights
