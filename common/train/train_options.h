// Everything one offline training run is configured with, read from the job's YAML file. Each
// section has defaults; errors name the file, line and key (common/config).
//
//   kind: dpo                      # sft | reward_model | dpo | kto | orpo | simpo | rrhf
//   model: {path, dtype, device, reward_outputs, gradient_checkpointing, lora: {...}}
//   reference: {path}              # dpo/kto; default: model.path
//   tokenization: {...}            # example_encoder.h
//   data: {...}                    # common/data/dataset_options.h
//   training: {steps, batch_size, micro_batch_size, max_grad_norm, bf16_autocast, seed, threads}
//   optimizer: {lr, beta1, beta2, eps, weight_decay}
//   schedule: {kind, warmup_steps, min_lr_ratio}
//   eval: {every, max_examples, batch_size}
//   checkpoint: {dir, every, keep, resume}
//   logging: {metrics_file, every, progress}
//   distributed: {backend, timeout}
//   sft / dpo / kto / orpo / simpo / rrhf / reward_model: the objective's options
//
// Thread safety: plain values.
#ifndef PLUMB_COMMON_TRAIN_TRAIN_OPTIONS_H_
#define PLUMB_COMMON_TRAIN_TRAIN_OPTIONS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/data/dataset_options.h"
#include "common/model/lora_options.h"
#include "common/train/distributed.h"
#include "common/train/example_encoder.h"
#include "common/train/lr_schedule.h"
#include "common/train/objectives.h"
#include "common/train/optimizer_options.h"

namespace plumb::train {

struct ModelOptions {
  std::string path;  // a Hugging Face model folder (config.json + safetensors)
  std::string dtype = "float32";
  std::string device = "cpu";
  // Reward-head outputs; -1 keeps the checkpoint's. A head missing from the checkpoint starts
  // from its initialisation (fine-tuning an SFT model into a reward model).
  int64_t reward_outputs = -1;
  bool gradient_checkpointing = false;
  std::optional<model::LoraOptions> lora;
};

struct LoopOptions {
  int64_t steps = 100;           // optimizer steps
  int64_t batch_size = 8;        // examples per optimizer step, all ranks together
  int64_t micro_batch_size = 0;  // examples per forward pass; 0 = the rank's whole share
  double max_grad_norm = 1.0;    // 0 disables clipping
  bool bf16_autocast = false;
  uint64_t seed = 0;
  int threads = 0;  // LibTorch intra-op threads; 0 = the machine's cores / ranks on this host
};

struct EvalOptions {
  int64_t every = 0;  // steps between evaluations; 0 = only at the end (when there is eval data)
  int64_t max_examples = 256;
  int64_t batch_size = 8;
};

struct CheckpointOptions {
  std::string dir;     // empty = no checkpoints
  int64_t every = 0;   // steps; 0 = only at the end
  int64_t keep = 2;    // newest step checkpoints kept
  bool resume = true;  // continue from the newest checkpoint in dir
};

struct LogOptions {
  std::string metrics_file;  // JSON lines; empty = <checkpoint.dir>/metrics.jsonl or none
  int64_t every = 1;
  bool progress = true;  // a progress line on stderr
};

struct TrainOptions {
  std::string config_path;
  ModelOptions model;
  std::optional<std::string> reference_path;
  EncoderOptions tokenization;
  data::DatasetOptions data;
  LoopOptions training;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  EvalOptions eval;
  CheckpointOptions checkpoint;
  LogOptions logging;
  WorldOptions distributed;
  ObjectiveOptions objective;  // objective.kind is the job's kind
};

// Reads and validates the YAML file; relative paths are resolved against its folder.
absl::StatusOr<TrainOptions> ReadTrainOptions(const std::string& path);
absl::StatusOr<TrainOptions> ParseTrainOptions(const std::string& yaml, const std::string& source,
                                               const std::string& base_dir);

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_TRAIN_OPTIONS_H_
