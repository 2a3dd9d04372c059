#include "common/weights/versioned_model.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::weights {

VersionedModel::VersionedModel(model::ModelConfig config, model::ModelPlacement placement,
                               std::shared_ptr<ModelSnapshot> first)
    : config_(std::move(config)), placement_(placement), current_(std::move(first)) {
  for (const auto& [name, t] : model::ExportHfTensors(*current_->model)) {
    shapes_[name] = t.sizes().vec();
  }
}

absl::StatusOr<std::unique_ptr<VersionedModel>> VersionedModel::Load(
    const std::string& dir, const model::ModelPlacement& placement, uint64_t version) {
  auto snapshot = std::make_shared<ModelSnapshot>();
  try {
    ASSIGN_OR_RETURN(snapshot->model, model::LoadHfModel(dir, placement));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(dir, ": ", e.what_without_backtrace()));
  }
  for (at::Tensor& p : snapshot->model->parameters()) p.set_requires_grad(false);
  snapshot->version = version;
  snapshot->source = dir;
  snapshot->loaded = absl::Now();
  const model::ModelConfig config = snapshot->model->config();
  return std::unique_ptr<VersionedModel>(
      new VersionedModel(config, placement, std::move(snapshot)));
}

std::shared_ptr<ModelSnapshot> VersionedModel::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

WeightTarget VersionedModel::Target(const std::string& model_name) const {
  std::shared_ptr<ModelSnapshot> current = Current();
  WeightTarget target;
  target.model = model_name;
  target.architecture = "llama";
  target.shapes = shapes_;
  target.has_weights = true;
  target.version = current->version;
  return target;
}

absl::StatusOr<uint64_t> VersionedModel::Apply(const ReceivedWeights& weights) {
  bool expected = false;
  if (!loading_.compare_exchange_strong(expected, true)) {
    return absl::AbortedError("another weight load is in progress");
  }
  struct Done {
    std::atomic<bool>* flag;
    ~Done() { flag->store(false); }
  } done{&loading_};
  std::shared_ptr<ModelSnapshot> current = Current();
  // Reuse the model of the snapshot before the current one when nobody reads it any more (only
  // this object holds it): the swap then costs a copy into existing memory.
  model::Transformer staging{nullptr};
  {
    absl::MutexLock lock(&mu_);
    if (previous_ != nullptr && previous_.use_count() == 1) staging = previous_->model;
    previous_.reset();
  }
  auto next = std::make_shared<ModelSnapshot>();
  try {
    torch::NoGradGuard no_grad;
    std::map<std::string, at::Tensor> tensors;
    if (weights.partial) tensors = model::ExportHfTensors(*current->model);
    for (const auto& [name, t] : weights.tensors) tensors[name] = t.to(placement_.dtype);
    if (staging.is_empty()) {
      staging = model::Transformer(config_);
      staging->to(placement_.dtype);
      staging->to(placement_.device);
      staging->eval();
      for (at::Tensor& p : staging->parameters()) p.set_requires_grad(false);
    }
    next->model = staging;
    // All-or-nothing: the import checks every tensor before copying any.
    RETURN_IF_ERROR(model::ImportHfTensors(*next->model, std::move(tensors),
                                           absl::StrCat("weights version ", weights.version)));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("staging weights version ", weights.version, ": ",
                                            e.what_without_backtrace()));
  }
  next->version = weights.version;
  next->source = weights.source;
  next->loaded = absl::Now();
  absl::MutexLock lock(&mu_);
  const uint64_t previous = current_->version;
  previous_ = std::move(current_);
  current_ = std::move(next);
  return previous;
}

absl::StatusOr<v1::LoadWeightsResponse> ReceiveWeights(
    const std::function<bool(v1::WeightChunk*)>& read, VersionedModel& model,
    const std::string& model_name) {
  if (model.loading()) return absl::AbortedError("another weight load is in progress");
  WeightStreamReceiver receiver(model.Target(model_name));
  v1::WeightChunk chunk;
  while (read(&chunk)) RETURN_IF_ERROR(receiver.Add(chunk));
  ASSIGN_OR_RETURN(ReceivedWeights weights, receiver.Finish());
  ASSIGN_OR_RETURN(const uint64_t previous, model.Apply(weights));
  v1::LoadWeightsResponse response;
  response.set_version(weights.version);
  response.set_previous_version(previous);
  response.set_bytes(weights.bytes);
  response.set_tensors(weights.tensors.size());
  response.set_seconds(weights.seconds);
  return response;
}

}  // namespace plumb::weights
