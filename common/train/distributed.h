// Data-parallel collectives over torch c10d for trainers that run as several processes, one per
// rank, started the way torchrun starts them: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in the
// environment. Rank 0 hosts the rendezvous store (c10d::TCPStore) on MASTER_ADDR:MASTER_PORT.
//
// Backends: "gloo" (CPU tensors; what this LibTorch has) and "nccl" (CUDA tensors; only when
// LibTorch was built with it). One process with no environment is a world of size 1 and every
// collective is a no-op, so single-process training needs no store and no sockets.
//
// Thread safety: one thread (the trainer's) calls the collectives, in the same order on every
// rank, as c10d requires.
#ifndef PLUMB_COMMON_TRAIN_DISTRIBUTED_H_
#define PLUMB_COMMON_TRAIN_DISTRIBUTED_H_

#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace plumb::train {

struct WorldOptions {
  std::string backend = "gloo";  // "gloo" or "nccl"
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
};

struct WorldEnvironment {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};

// Reads RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT. Absent variables mean a world of one;
// malformed or inconsistent values (RANK >= WORLD_SIZE, a port out of range) are
// INVALID_ARGUMENT naming the variable.
absl::StatusOr<WorldEnvironment> ReadWorldEnvironment();

class World {
 public:
  // Joins the process group (blocks until every rank has joined or `timeout` passes).
  static absl::StatusOr<std::unique_ptr<World>> Join(const WorldEnvironment& env,
                                                     const WorldOptions& options);
  // A world of one process: no sockets, collectives return their input.
  static std::unique_ptr<World> Single();
  ~World();

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  bool is_primary() const { return env_.rank == 0; }

  // Sums each tensor in place across ranks. Tensors are flattened into one buffer per dtype, so a
  // whole model's gradients cost one collective.
  absl::Status AllReduceSum(const std::vector<at::Tensor>& tensors);
  // Sums plain numbers across ranks (float64).
  absl::StatusOr<std::vector<double>> AllReduceSum(const std::vector<double>& values);
  // Copies rank 0's tensors into every rank's (in place).
  absl::Status Broadcast(const std::vector<at::Tensor>& tensors);
  absl::Status Barrier();

 private:
  struct Group;
  World(WorldEnvironment env, std::unique_ptr<Group> group);
  WorldEnvironment env_;
  std::unique_ptr<Group> group_;
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_DISTRIBUTED_H_
