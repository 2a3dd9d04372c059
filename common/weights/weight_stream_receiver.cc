#include "common/weights/weight_stream_receiver.h"

#include <torch/torch.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::weights {
namespace {

// A tensor or model name from the stream, safe to put in an error message (a 1 MB name would
// overflow gRPC's metadata limit).
std::string Name(absl::string_view name) {
  return Echo(std::string_view(name.data(), name.size()), kDefaultEchoBytes, '\'');
}

}  // namespace

struct WeightStreamReceiver::State {
  std::optional<WeightManifest> manifest;
  uint64_t version = 0;
  std::map<std::string, const TensorSpec*, std::less<>> specs;
  std::optional<WeightCommit> commit;
  std::unique_ptr<tensor::TensorAssembler> assembler;
  std::map<std::string, at::Tensor> received;
  std::string current;  // the tensor whose chunks are arriving
  bool in_place = false;
  std::map<std::string, at::Tensor> destinations;
  uint64_t bytes = 0;
  std::chrono::steady_clock::time_point start;
  bool dead = false;
};

WeightStreamReceiver::WeightStreamReceiver(WeightTarget target)
    : target_(std::move(target)), state_(std::make_unique<State>()) {}
WeightStreamReceiver::WeightStreamReceiver(TargetChooser choose)
    : choose_(std::move(choose)), state_(std::make_unique<State>()) {}
WeightStreamReceiver::~WeightStreamReceiver() = default;

const WeightManifest* WeightStreamReceiver::manifest() const {
  return state_->manifest ? &*state_->manifest : nullptr;
}

absl::Status WeightStreamReceiver::Add(const WeightMessage& message) {
  State& s = *state_;
  if (s.dead) return absl::FailedPreconditionError("the weight stream already failed");
  absl::Status status = [&]() -> absl::Status {
    const auto* manifest = std::get_if<WeightManifest>(&message.payload);
    if (!s.manifest.has_value()) {
      if (manifest == nullptr) {
        return absl::InvalidArgumentError(
            "the first message of a weight stream must be a manifest");
      }
      if (choose_) {
        absl::StatusOr<WeightTarget> chosen = choose_(*manifest);
        if (!chosen.ok()) return chosen.status();
        target_ = *std::move(chosen);
      }
      return OnManifest(*manifest, message.version);
    }
    if (message.version != s.version) {
      return absl::InvalidArgumentError(absl::StrCat("message for version ", message.version,
                                                     " in a stream of version ", s.version));
    }
    if (s.commit.has_value()) {
      return absl::InvalidArgumentError("a message after the commit");
    }
    if (manifest != nullptr) return absl::InvalidArgumentError("a second manifest");
    if (const auto* commit = std::get_if<WeightCommit>(&message.payload)) {
      s.commit = *commit;
      return absl::OkStatus();
    }
    const auto* chunk = std::get_if<tensor::TensorChunkView>(&message.payload);
    if (chunk == nullptr) return absl::InvalidArgumentError("an empty weight-stream message");
    return OnTensorChunk(*chunk);
  }();
  if (!status.ok()) s.dead = true;
  return status;
}

absl::Status WeightStreamReceiver::OnManifest(const WeightManifest& m, uint64_t version) {
  State& s = *state_;
  if (version != m.version) {
    return absl::InvalidArgumentError(
        absl::StrCat("the manifest says version ", m.version, " but its message says ", version));
  }
  if (m.model != target_.model) {
    return absl::InvalidArgumentError(absl::StrCat("manifest names model ", Name(m.model),
                                                   "; this receiver holds '", target_.model, "'"));
  }
  // What a reward head reads ("llama/reward_readout=...", model::ModelConfig::Architecture())
  // only matters to a receiver with a reward head: a generator takes a reward model's trunk.
  const bool fits = m.architecture == target_.architecture ||
                    (target_.shapes.count("score.weight") == 0 &&
                     m.architecture.substr(0, m.architecture.find('/')) == target_.architecture);
  if (!fits) {
    return absl::FailedPreconditionError(
        absl::StrCat("manifest architecture ", Name(m.architecture), " differs from the model's '",
                     target_.architecture, "'"));
  }
  if (target_.has_weights && m.version == target_.version) {
    return absl::AlreadyExistsError(absl::StrCat("version ", m.version, " is already loaded"));
  }
  if (target_.has_weights && m.version < target_.version && !m.allow_downgrade) {
    return absl::FailedPreconditionError(
        absl::StrCat("version ", m.version, " is older than the loaded version ", target_.version,
                     " (set allow_downgrade to load it)"));
  }
  if (m.tensors.size() > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest lists ", m.tensors.size(), " tensors; at most 100000"));
  }
  uint64_t total = 0;
  std::vector<std::string> problems;
  for (const TensorSpec& spec : m.tensors) {
    auto it = target_.shapes.find(spec.name);
    if (it == target_.shapes.end()) {
      problems.push_back(absl::StrCat("unknown tensor ", Name(spec.name)));
      continue;
    }
    const std::vector<int64_t>& shape = spec.shape;
    if (shape != it->second) {
      problems.push_back(absl::StrCat("tensor ", Name(spec.name), " has shape [",
                                      absl::StrJoin(shape, ", "), "], the model has [",
                                      absl::StrJoin(it->second, ", "), "]"));
    }
    if (!s.specs.emplace(spec.name, &spec).second) {
      problems.push_back(absl::StrCat("tensor ", Name(spec.name), " is listed twice"));
    }
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    const size_t element = tensor::ElementSize(spec.dtype);
    if (element == 0) {
      problems.push_back(absl::StrCat("tensor ", Name(spec.name), " has an unsupported dtype"));
    } else if (spec.total_bytes != static_cast<uint64_t>(numel) * element) {
      problems.push_back(absl::StrCat("tensor ", Name(spec.name), " says total_bytes ",
                                      spec.total_bytes, " but its shape and dtype make ",
                                      static_cast<uint64_t>(numel) * element));
    }
    total += spec.total_bytes;
  }
  if (!m.partial) {
    for (const auto& [name, shape] : target_.shapes) {
      if (!s.specs.count(name))
        problems.push_back(absl::StrCat("tensor ", Name(name), " is missing"));
    }
  }
  if (total != m.total_bytes) {
    problems.push_back(absl::StrCat("total_bytes ", m.total_bytes,
                                    " is not the sum of the tensors' bytes (", total, ")"));
  }
  if (!problems.empty()) {
    if (problems.size() > 8) {
      const size_t more = problems.size() - 8;
      problems.resize(8);
      problems.push_back(absl::StrCat("and ", more, " more"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the manifest does not fit the model: ", absl::StrJoin(problems, "; ")));
  }
  if (total > target_.max_total_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the weights need ", total, " bytes of staging; the limit is ", target_.max_total_bytes));
  }
  s.manifest = m;
  s.version = m.version;
  // Re-point the specs at the stored copy.
  s.specs.clear();
  for (const TensorSpec& spec : s.manifest->tensors) s.specs[spec.name] = &spec;
  tensor::AssemblerOptions assembler;
  if (target_.destinations) {
    std::optional<std::map<std::string, at::Tensor>> views = target_.destinations(*s.manifest);
    if (views.has_value()) {
      s.in_place = true;
      s.destinations = std::move(*views);
      assembler.destination = [&s](const std::string& name, c10::ScalarType,
                                   at::IntArrayRef) -> absl::StatusOr<at::Tensor> {
        auto it = s.destinations.find(name);
        if (it == s.destinations.end()) {
          return absl::InternalError(absl::StrCat("no destination for tensor ", Name(name)));
        }
        return it->second;
      };
    }
  }
  s.assembler = std::make_unique<tensor::TensorAssembler>(std::move(assembler));
  s.start = std::chrono::steady_clock::now();
  return absl::OkStatus();
}

absl::Status WeightStreamReceiver::OnTensorChunk(const tensor::TensorChunkView& chunk) {
  State& s = *state_;
  auto it = s.specs.find(chunk.name);
  if (it == s.specs.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk for tensor ", Name(chunk.name), ", which is not in the manifest"));
  }
  const TensorSpec& spec = *it->second;
  if (chunk.dtype != spec.dtype || chunk.total_bytes != spec.total_bytes ||
      !std::equal(chunk.shape.begin(), chunk.shape.end(), spec.shape.begin(), spec.shape.end())) {
    return absl::InvalidArgumentError(absl::StrCat("chunk of tensor ", Name(chunk.name),
                                                   " has metadata differing from the manifest's"));
  }
  if (s.received.count(it->first)) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", Name(chunk.name), " arrived twice"));
  }
  ASSIGN_OR_RETURN(std::optional<tensor::NamedTensor> done, s.assembler->Add(chunk));
  s.bytes += chunk.data.size();
  if (done.has_value()) {
    // NaN or Inf weights would make every sample fail (token id -1): refuse them while staged,
    // before anything is committed.
    if (done->tensor.is_floating_point() && !torch::isfinite(done->tensor).all().item<bool>()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor ", Name(done->name),
                       " holds non-finite values (NaN or Inf); nothing was loaded"));
    }
    s.received[done->name] = std::move(done->tensor);
  }
  return absl::OkStatus();
}

absl::StatusOr<ReceivedWeights> WeightStreamReceiver::Finish() {
  State& s = *state_;
  if (s.dead) return absl::FailedPreconditionError("the weight stream already failed");
  if (!s.manifest.has_value()) return absl::InvalidArgumentError("an empty weight stream");
  RETURN_IF_ERROR(s.assembler->Finish());
  if (!s.commit.has_value()) {
    return absl::InvalidArgumentError("the weight stream ended without a commit");
  }
  std::vector<std::string> missing;
  size_t missing_count = 0;
  for (const auto& [name, spec] : s.specs) {
    if (s.received.count(name)) continue;
    if (++missing_count <= 8) missing.push_back(std::string(name).substr(0, kDefaultEchoBytes));
  }
  if (missing_count > 0) {
    if (missing_count > missing.size()) {
      missing.push_back(absl::StrCat("and ", missing_count - missing.size(), " more"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("the weight stream ended without tensor(s) ", absl::StrJoin(missing, ", ")));
  }
  if (s.commit->tensor_count != s.received.size() ||
      s.commit->total_bytes != s.manifest->total_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the commit counts ", s.commit->tensor_count, " tensors and ", s.commit->total_bytes,
        " bytes; the stream carried ", s.received.size(), " and ", s.manifest->total_bytes));
  }
  ReceivedWeights out;
  out.version = s.version;
  out.partial = s.manifest->partial;
  out.source = s.manifest->source;
  out.tensors = std::move(s.received);
  out.in_place = s.in_place;
  out.bytes = s.bytes;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count();
  s.dead = true;
  return out;
}

}  // namespace plumb::weights
