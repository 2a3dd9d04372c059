// A model that changes only by whole, versioned weight sets: readers take a snapshot (a shared
// pointer to one model and its version) and keep using it however long they need, while a weight
// load builds the next model beside it and swaps the pointer. Requests in flight therefore finish
// on the version they started with; the old model is freed when its last reader lets go.
//
// Domain types only (no protobuf, no gRPC): a weight stream reaches it through WeightLoad
// (weight_load.h); weight_stream_proto.h is the protobuf edge.
//
// Thread safety: Current() and Target() from any thread. Apply() stages on the caller's thread
// (one load at a time: a second concurrent load is ABORTED) and swaps under a mutex. A snapshot's
// model must still be used by one thread at a time (the service's runner thread, or whoever holds
// the snapshot's use_mu).
#ifndef PLUMB_COMMON_WEIGHTS_VERSIONED_MODEL_H_
#define PLUMB_COMMON_WEIGHTS_VERSIONED_MODEL_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/transformer.h"
#include "common/weights/weight_stream_receiver.h"

namespace plumb::weights {

// Fields never change after the swap that publishes a snapshot; the model is used by one thread at
// a time (the runner thread).
struct ModelSnapshot {
  model::Transformer model{nullptr};
  uint64_t version = 0;
  // Counts the swaps of its VersionedModel (0 = as loaded): unlike `version`, which a downgrade
  // may repeat, it names these weights uniquely (e.g. in cache keys).
  uint64_t generation = 0;
  std::string source;
  absl::Time loaded;
  // For holders without a runner thread (the scorer's reward models): held around every use of
  // `model`, so concurrent requests on one snapshot queue instead of racing.
  absl::Mutex use_mu;
};

class VersionedModel {
 public:
  // The model of a Hugging Face folder, as version `version` (0 = base weights).
  static absl::StatusOr<std::unique_ptr<VersionedModel>> Load(
      const std::string& dir, const model::ModelPlacement& placement, uint64_t version = 0);

  std::shared_ptr<ModelSnapshot> Current() const ABSL_LOCKS_EXCLUDED(mu_);

  // What a weight stream must match (HF tensor names and shapes, architecture "llama").
  WeightTarget Target(const std::string& model_name = "") const;

  // One load in progress: holds the one-load-at-a-time claim and the model being staged (the
  // model the previous swap replaced when no reader holds it any more, else a new one).
  // Destroying it without Commit abandons the load; the staging model is kept for the next one.
  class Staging {
   public:
    ~Staging();
    Staging(const Staging&) = delete;
    Staging& operator=(const Staging&) = delete;
    // Views into the staging model's parameters for every tensor of a full manifest whose dtype
    // is the model's (the receiver then writes chunks straight into the model: no reassembly
    // and no second copy); nullopt when that is not possible (a partial manifest, another
    // dtype, a non-CPU model).
    std::optional<std::map<std::string, at::Tensor>> Destinations(const WeightManifest& manifest);

   private:
    friend class VersionedModel;
    explicit Staging(VersionedModel* owner) : owner_(owner) {}
    VersionedModel* owner_;
    model::Transformer model_{nullptr};
    bool committed_ = false;
  };

  // Claims the model for one load: ABORTED while another load is in progress.
  absl::StatusOr<std::unique_ptr<Staging>> BeginLoad() ABSL_LOCKS_EXCLUDED(mu_);
  // Finishes a load: unless `weights.in_place` (the stream already wrote every tensor into the
  // staging model), copies `weights` into it (a partial set keeps the current values of the
  // others; dtypes are converted to the model's). Then swaps it in. All-or-nothing.
  absl::StatusOr<uint64_t> Commit(std::unique_ptr<Staging> staging, const ReceivedWeights& weights)
      ABSL_LOCKS_EXCLUDED(mu_);
  // BeginLoad + Commit.
  absl::StatusOr<uint64_t> Apply(const ReceivedWeights& weights) ABSL_LOCKS_EXCLUDED(mu_);

  bool loading() const { return loading_.load(); }
  const model::ModelConfig& config() const { return config_; }
  const model::ModelPlacement& placement() const { return placement_; }

 private:
  VersionedModel(model::ModelConfig config, model::ModelPlacement placement,
                 std::shared_ptr<ModelSnapshot> first);

  const model::ModelConfig config_;
  const model::ModelPlacement placement_;
  std::map<std::string, std::vector<int64_t>> shapes_;
  std::atomic<bool> loading_{false};
  mutable absl::Mutex mu_;
  std::shared_ptr<ModelSnapshot> current_ ABSL_GUARDED_BY(mu_);
  // The snapshot replaced by the last swap. When no reader holds it any more, the next load
  // stages into its model instead of allocating and initialising a new one.
  std::shared_ptr<ModelSnapshot> previous_ ABSL_GUARDED_BY(mu_);
  uint64_t swaps_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace plumb::weights

#endif  // PLUMB_COMMON_WEIGHTS_VERSIONED_MODEL_H_
