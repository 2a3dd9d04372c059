// One weight stream into a VersionedModel, in domain types: the load every model-holding service
// runs for LoadWeights (weight_stream_proto.h reads the gRPC stream into it).
//
// When the manifest arrives, the load picks the model (the service's only one, or the one the
// manifest names), claims it (ABORTED while another load of that model runs) and checks the
// manifest against it; chunks are then written straight into the model's staging copy where the
// manifest allows (VersionedModel::Staging::Destinations), and Finish swaps it in. Abandoning a
// load (destroying it before Finish succeeds) changes nothing visible.
//
// Thread safety: one WeightLoad per stream, used by the thread reading that stream.
#ifndef PLUMB_COMMON_WEIGHTS_WEIGHT_LOAD_H_
#define PLUMB_COMMON_WEIGHTS_WEIGHT_LOAD_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/weights/versioned_model.h"
#include "common/weights/weight_stream_receiver.h"

namespace plumb::weights {

// What a committed load reports (the fields of weights.proto's LoadWeightsResponse).
struct LoadResult {
  uint64_t version = 0;           // now held
  uint64_t previous_version = 0;  // held before the swap
  uint64_t bytes = 0;             // tensor data bytes received
  uint64_t tensors = 0;           // tensors replaced
  double seconds = 0;             // from the manifest's arrival to the swap
};

// The model that receives a stream whose manifest names `name`. Its error (an unknown name, a
// model that takes no weights) ends the load before any data is read.
using ModelResolver = std::function<absl::StatusOr<VersionedModel*>(const std::string& name)>;

class WeightLoad {
 public:
  // Into `model`; a manifest must name `name` ("" for a service's only model).
  explicit WeightLoad(VersionedModel& model, std::string name = "");
  // Into the model `resolve` gives for the manifest's name.
  explicit WeightLoad(ModelResolver resolve);
  ~WeightLoad();
  WeightLoad(const WeightLoad&) = delete;
  WeightLoad& operator=(const WeightLoad&) = delete;

  // The next message; after an error the load is dead (and the model free for the next load):
  // the caller ends the stream with that status.
  absl::Status Add(const WeightMessage& message);
  // The stream has ended: validates it (WeightStreamReceiver::Finish) and swaps the new weights in.
  absl::StatusOr<LoadResult> Finish();

 private:
  absl::StatusOr<WeightTarget> Begin(const WeightManifest& manifest);

  ModelResolver resolve_;
  std::optional<std::string> name_;  // nullopt: the manifest's own name
  VersionedModel* model_ = nullptr;
  // Declared before receiver_, whose destinations point into it, so it outlives the receiver.
  std::unique_ptr<VersionedModel::Staging> staging_;
  WeightStreamReceiver receiver_;
};

}  // namespace plumb::weights

#endif  // PLUMB_COMMON_WEIGHTS_WEIGHT_LOAD_H_
