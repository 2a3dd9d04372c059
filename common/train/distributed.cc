#include "common/train/distributed.h"

#include <torch/torch.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace plumb::train {
namespace {

absl::Status ReadIntVariable(const char* name, int min, int max, int* out, bool* present) {
  const char* value = std::getenv(name);
  *present = value != nullptr && *value != '\0';
  if (!*present) return absl::OkStatus();
  int parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "='", value,
                                                   "' is not an integer in [", min, ", ", max,
                                                   "]"));
  }
  *out = parsed;
  return absl::OkStatus();
}

// Runs a c10d call, turning its exceptions into a Status that says which collective failed.
// Kept apart from the model boundary (TorchBoundary): a failed collective means a lost or
// stalled peer, UNAVAILABLE (restart the job) rather than INTERNAL.
template <typename Fn>
absl::Status Collective(const char* what, Fn&& fn) {
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("data-parallel ", what, " failed: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<WorldEnvironment> ReadWorldEnvironment() {
  WorldEnvironment env;
  bool has_rank = false, has_size = false, has_port = false;
  absl::Status status = ReadIntVariable("WORLD_SIZE", 1, 1 << 20, &env.world_size, &has_size);
  if (!status.ok()) return status;
  status = ReadIntVariable("RANK", 0, 1 << 20, &env.rank, &has_rank);
  if (!status.ok()) return status;
  status = ReadIntVariable("MASTER_PORT", 1, 65535, &env.master_port, &has_port);
  if (!status.ok()) return status;
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') {
    env.master_addr = addr;
  }
  if (has_rank != has_size) {
    return absl::InvalidArgumentError(
        "set both RANK and WORLD_SIZE (as torchrun does) or neither for a single process");
  }
  if (env.rank >= env.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("RANK=", env.rank, " must be smaller than WORLD_SIZE=", env.world_size));
  }
  if (env.world_size > 1 && !has_port) {
    return absl::InvalidArgumentError(
        "WORLD_SIZE > 1 needs MASTER_PORT (and MASTER_ADDR, default 127.0.0.1): the address of "
        "rank 0's rendezvous store");
  }
  return env;
}

struct World::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> group;
};

World::World(WorldEnvironment env, std::unique_ptr<Group> group)
    : env_(std::move(env)), group_(std::move(group)) {}
World::~World() = default;

std::unique_ptr<World> World::Single() {
  return std::unique_ptr<World>(new World(WorldEnvironment{}, nullptr));
}

absl::StatusOr<std::unique_ptr<World>> World::Join(const WorldEnvironment& env,
                                                   const WorldOptions& options) {
  if (options.backend != "gloo" && options.backend != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("distributed backend '", options.backend, "' is unknown; use gloo or nccl"));
  }
  if (env.world_size == 1) return Single();
  if (options.backend == "nccl") {
    return absl::UnimplementedError(
        "distributed backend 'nccl' needs a LibTorch built with CUDA and NCCL; this build has "
        "only gloo (set distributed.backend: gloo)");
  }
  auto group = std::make_unique<Group>();
  absl::Status status = Collective("rendezvous", [&] {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    group->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
    gloo_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
    gloo_options->threads = 2;
    group->group = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, env.rank,
                                                               env.world_size, gloo_options);
  });
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat("rank ", env.rank, " of ", env.world_size,
                                               " could not join ", env.master_addr, ":",
                                               env.master_port, ": ", status.message()));
  }
  return std::unique_ptr<World>(new World(env, std::move(group)));
}

absl::Status World::AllReduceSum(const std::vector<at::Tensor>& tensors) {
  if (group_ == nullptr || tensors.empty()) return absl::OkStatus();
  torch::NoGradGuard no_grad;
  std::map<c10::ScalarType, std::vector<at::Tensor>> by_dtype;
  for (const at::Tensor& t : tensors) by_dtype[t.scalar_type()].push_back(t);
  for (auto& [dtype, group] : by_dtype) {
    std::vector<at::Tensor> flat;
    flat.reserve(group.size());
    for (const at::Tensor& t : group) flat.push_back(t.reshape({-1}));
    std::vector<at::Tensor> buffer = {torch::cat(flat)};
    absl::Status status =
        Collective("all-reduce", [&] { group_->group->allreduce(buffer)->wait(); });
    if (!status.ok()) return status;
    int64_t offset = 0;
    for (const at::Tensor& t : group) {
      const int64_t n = t.numel();
      t.copy_(buffer[0].narrow(0, offset, n).view(t.sizes()));
      offset += n;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> World::AllReduceSum(const std::vector<double>& values) {
  if (group_ == nullptr || values.empty()) return values;
  at::Tensor buffer = torch::tensor(values, torch::kDouble);
  absl::Status status = AllReduceSum(std::vector<at::Tensor>{buffer});
  if (!status.ok()) return status;
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = buffer[i].item<double>();
  return out;
}

absl::Status World::Broadcast(const std::vector<at::Tensor>& tensors) {
  if (group_ == nullptr) return absl::OkStatus();
  torch::NoGradGuard no_grad;
  for (const at::Tensor& t : tensors) {
    std::vector<at::Tensor> one = {t.is_contiguous() ? t : t.contiguous()};
    absl::Status status = Collective("broadcast", [&] { group_->group->broadcast(one)->wait(); });
    if (!status.ok()) return status;
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
  return absl::OkStatus();
}

absl::Status World::Barrier() {
  if (group_ == nullptr) return absl::OkStatus();
  return Collective("barrier", [&] { group_->group->barrier()->wait(); });
}

}  // namespace plumb::train
