#include "common/weights/versioned_model.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "common/status/torch_status.h"

namespace plumb::weights {

VersionedModel::VersionedModel(model::ModelConfig config, model::ModelPlacement placement,
                               std::shared_ptr<ModelSnapshot> first)
    : config_(std::move(config)), placement_(placement), current_(std::move(first)) {
  for (const auto& [name, t] : model::ExportHfTensors(*current_->model)) {
    shapes_[name] = t.sizes().vec();
  }
}

// Each public method that touches LibTorch runs its work inside TorchBoundary: VersionedModel
// is the model boundary of every service that loads weights through it.
absl::StatusOr<std::unique_ptr<VersionedModel>> VersionedModel::Load(
    const std::string& dir, const model::ModelPlacement& placement, uint64_t version) {
  return TorchBoundary(dir, [&]() -> absl::StatusOr<std::unique_ptr<VersionedModel>> {
    auto snapshot = std::make_shared<ModelSnapshot>();
    ASSIGN_OR_RETURN(snapshot->model, model::LoadHfModel(dir, placement));
    for (at::Tensor& p : snapshot->model->parameters()) p.set_requires_grad(false);
    snapshot->version = version;
    snapshot->source = dir;
    snapshot->loaded = absl::Now();
    const model::ModelConfig config = snapshot->model->config();
    return std::unique_ptr<VersionedModel>(
        new VersionedModel(config, placement, std::move(snapshot)));
  });
}

std::shared_ptr<ModelSnapshot> VersionedModel::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

WeightTarget VersionedModel::Target(const std::string& model_name) const {
  std::shared_ptr<ModelSnapshot> current = Current();
  WeightTarget target;
  target.model = model_name;
  target.architecture = config_.Architecture();
  target.shapes = shapes_;
  target.has_weights = true;
  target.version = current->version;
  return target;
}

absl::StatusOr<std::unique_ptr<VersionedModel::Staging>> VersionedModel::BeginLoad() {
  bool expected = false;
  if (!loading_.compare_exchange_strong(expected, true)) {
    return absl::AbortedError("another weight load is in progress");
  }
  std::unique_ptr<Staging> staging(new Staging(this));
  // Reuse the model of the snapshot before the current one when nobody reads it any more (only
  // this object holds it): the swap then costs a copy into existing memory.
  {
    absl::MutexLock lock(&mu_);
    if (previous_ != nullptr && previous_.use_count() == 1) staging->model_ = previous_->model;
    previous_.reset();
  }
  if (staging->model_.is_empty()) {
    RETURN_IF_ERROR(TorchBoundary("allocating the staging model", [&]() -> absl::Status {
      torch::NoGradGuard no_grad;
      staging->model_ = model::Transformer(config_);
      staging->model_->to(placement_.dtype);
      staging->model_->to(placement_.device);
      staging->model_->eval();
      for (at::Tensor& p : staging->model_->parameters()) p.set_requires_grad(false);
      return absl::OkStatus();
    }));
  }
  return staging;
}

VersionedModel::Staging::~Staging() {
  if (!committed_ && !model_.is_empty()) {
    // An abandoned load: keep the (now dirty, never visible) model for the next load.
    auto spare = std::make_shared<ModelSnapshot>();
    spare->model = model_;
    absl::MutexLock lock(&owner_->mu_);
    if (owner_->previous_ == nullptr) owner_->previous_ = std::move(spare);
  }
  owner_->loading_.store(false);
}

std::optional<std::map<std::string, at::Tensor>> VersionedModel::Staging::Destinations(
    const WeightManifest& manifest) {
  if (manifest.partial || model_.is_empty()) return std::nullopt;
  std::vector<at::Tensor> parameters = model_->parameters();
  std::map<std::string, at::Tensor> views;
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> exported = model::ExportHfTensors(*model_);
  for (const TensorSpec& spec : manifest.tensors) {
    auto it = exported.find(spec.name);
    if (it == exported.end()) return std::nullopt;
    const at::Tensor& view = it->second;
    absl::StatusOr<c10::ScalarType> dtype = tensor::ToScalarType(spec.dtype);
    if (!dtype.ok() || *dtype != view.scalar_type() || !view.device().is_cpu() ||
        !view.is_contiguous()) {
      return std::nullopt;
    }
    // Only a view of a parameter writes into the model (not a computed copy).
    bool aliases = false;
    for (const at::Tensor& p : parameters) aliases = aliases || view.is_alias_of(p);
    if (!aliases) return std::nullopt;
    views[spec.name] = view;
  }
  return views;
}

absl::StatusOr<uint64_t> VersionedModel::Commit(std::unique_ptr<Staging> staging,
                                                const ReceivedWeights& weights) {
  std::shared_ptr<ModelSnapshot> current = Current();
  auto next = std::make_shared<ModelSnapshot>();
  next->model = staging->model_;
  if (!weights.in_place) {
    RETURN_IF_ERROR(TorchBoundary(
        absl::StrCat("staging weights version ", weights.version), [&]() -> absl::Status {
          torch::NoGradGuard no_grad;
          std::map<std::string, at::Tensor> tensors;
          if (weights.partial) tensors = model::ExportHfTensors(*current->model);
          for (const auto& [name, t] : weights.tensors) tensors[name] = t.to(placement_.dtype);
          // All-or-nothing: the import checks every tensor before copying any.
          return model::ImportHfTensors(*next->model, std::move(tensors),
                                        absl::StrCat("weights version ", weights.version));
        }));
  }
  next->version = weights.version;
  next->source = weights.source;
  next->loaded = absl::Now();
  staging->committed_ = true;
  uint64_t previous = 0;
  {
    absl::MutexLock lock(&mu_);
    previous = current_->version;
    next->generation = ++swaps_;
    previous_ = std::move(current_);
    current_ = std::move(next);
  }
  return previous;
}

absl::StatusOr<uint64_t> VersionedModel::Apply(const ReceivedWeights& weights) {
  ASSIGN_OR_RETURN(std::unique_ptr<Staging> staging, BeginLoad());
  return Commit(std::move(staging), weights);
}

}  // namespace plumb::weights
