#include "services/plumb-learner/learner_core.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/api/learner_limits.h"
#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/sharded_checkpoint.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/lora.h"
#include "common/model/mixed_precision.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/status/torch_status.h"
#include "common/train/optimizer.h"
#include "common/train/sequence_scoring.h"
#include "common/train/training_checkpoint.h"
#include "services/plumb-learner/learner_session.h"

namespace plumb::learner {

namespace fs = std::filesystem;

namespace {

constexpr char kVersionFile[] = "plumb_policy_version";

uint64_t ReadVersion(const fs::path& dir) {
  std::ifstream in(dir / kVersionFile);
  uint64_t version = 0;
  if (in) in >> version;
  return version;
}

}  // namespace

absl::Status CheckSequence(const model::ModelConfig& config, int64_t max_length,
                           const std::string& what, const std::vector<int64_t>& prompt,
                           const std::vector<int64_t>& response) {
  if (prompt.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty prompt"));
  if (response.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": empty response"));
  const int64_t limit = max_length > 0 ? std::min(max_length, config.max_position_embeddings)
                                       : config.max_position_embeddings;
  const int64_t length = static_cast<int64_t>(prompt.size() + response.size());
  if (length > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", length, " tokens exceed the maximum sequence length ", limit));
  }
  for (const auto* part : {&prompt, &response}) {
    for (int64_t id : *part) {
      if (id < 0 || id >= config.vocab_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": token id ", id, " is outside the vocabulary [0, ", config.vocab_size, ")"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLogProbs(const std::string& what, const std::vector<float>& values) {
  for (size_t t = 0; t < values.size(); ++t) {
    const float v = values[t];
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(absl::StrCat(what, "[", t, "] is not finite"));
    }
    if (!(v <= 0 && v >= kMinTokenLogProb)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, "[", t, "] = ", v, " is not a log-prob in [", kMinTokenLogProb, ", 0]"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckLogProbSum(const std::string& what, double value) {
  if (!std::isfinite(value)) return absl::InvalidArgumentError(what + " is not finite");
  if (!(value <= 0 && value >= kMinSequenceLogProb)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " = ", value, " is not a summed log-prob in [", kMinSequenceLogProb, ", 0]"));
  }
  return absl::OkStatus();
}

absl::Status CheckValue(const std::string& what, double value, double min, double max) {
  if (!std::isfinite(value)) return absl::InvalidArgumentError(what + " is not finite");
  if (!(value >= min && value <= max)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " = ", value, " is outside [", min, ", ", max, "]"));
  }
  return absl::OkStatus();
}

std::vector<int64_t> MinibatchOrder(uint64_t seed, uint64_t version, int epoch, int64_t n) {
  // splitmix64 folds the three into one well-mixed seed.
  auto mix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  std::mt19937_64 random(mix(mix(mix(seed) ^ version) ^ static_cast<uint64_t>(epoch)));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  // Fisher-Yates with plain modulo: the same sequence from every standard library.
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[random() % static_cast<uint64_t>(i + 1)]);
  }
  return order;
}

at::Tensor Padded(const std::vector<std::vector<float>>& rows, int64_t width) {
  at::Tensor out = torch::zeros({static_cast<int64_t>(rows.size()), width});
  auto a = out.accessor<float, 2>();
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t t = 0; t < rows[i].size() && static_cast<int64_t>(t) < width; ++t) {
      a[i][t] = rows[i][t];
    }
  }
  return out;
}

std::pair<int64_t, int64_t> LearnerCore::Session::Shard(int64_t begin, int64_t end) const {
  const int64_t n = end - begin;
  const int64_t r = world->rank(), w = world->size();
  return {begin + n * r / w, begin + n * (r + 1) / w};
}

SessionStatus LearnerCore::Session::State() const {
  SessionStatus status;
  status.id = id;
  status.active = true;
  status.policy_version = version;
  status.optimizer_steps = steps;
  status.train_calls = train_calls;
  status.error = error;
  return status;
}

void LearnerCore::Session::Report() {
  absl::MutexLock lock(&snapshot->mu);
  snapshot->status = State();
  snapshot->model = model;
}

bool LearnerCore::Session::CancelRequested() const {
  return cancelled != nullptr && *cancelled && (*cancelled)();
}

absl::Status LearnerCore::Session::AgreeToContinue() {
  std::vector<double> votes = {CancelRequested() ? 1.0 : 0.0, nonfinite.empty() ? 0.0 : 1.0};
  if (world->size() > 1) {
    ASSIGN_OR_RETURN(votes, world->AllReduceSum(votes));
  }
  if (votes[0] == 0 && votes[1] == 0) return absl::OkStatus();
  ZeroGrad();
  if (votes[1] > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        nonfinite.empty() ? "a loss is not finite on another data-parallel rank" : nonfinite,
        "; no optimizer step was applied for it: ", WhatStays()));
  }
  return CancelledStatus();
}

std::string LearnerCore::Session::WhatStays() const {
  return absl::StrCat("the call's ", steps - call_start_steps,
                      " earlier optimizer step(s) stay (policy version ", version,
                      "); the unfinished minibatch's gradients were dropped");
}

absl::Status LearnerCore::Session::CancelledStatus() const {
  return absl::CancelledError(
      absl::StrCat("the Train call was cancelled (or its deadline passed): ", WhatStays()));
}

void LearnerCore::Session::Backward(const at::Tensor& loss, const std::string& what) {
  touched = true;
  const double value = loss.detach().to(torch::kDouble).item<double>();
  if (!std::isfinite(value)) {
    if (nonfinite.empty()) nonfinite = absl::StrCat("the ", what, " is not finite (", value, ")");
    return;
  }
  loss.backward();
}

absl::Status LearnerCore::Session::CancelCheck() const {
  if (world->size() == 1 && CancelRequested()) return CancelledStatus();
  return absl::OkStatus();
}

absl::Status LearnerCore::Session::ForMicroBatches(
    int64_t begin, int64_t end, const std::function<absl::Status(int64_t, int64_t)>& fn) const {
  train::UpdateContext context;
  context.begin = begin;
  context.end = end;
  context.micro_batch_size = options.micro_batch_size;
  context.before_micro_batch = [this] { return CancelCheck(); };
  return train::ForEachMicroBatch(context, fn);
}

absl::StatusOr<model::ResponseScores> LearnerCore::Session::Score(
    const std::vector<std::vector<int64_t>>& prompts,
    const std::vector<std::vector<int64_t>>& responses, double temperature, bool with_entropy) {
  model::Bf16AutocastScope autocast(options.bf16_mixed, options.device != "cpu");
  return model::ScoreResponses(*policy, prompts, responses, temperature, with_entropy);
}

absl::Status LearnerCore::Session::ReduceTensors(const std::vector<at::Tensor>& tensors) {
  if (world->size() == 1) return absl::OkStatus();
  return world->AllReduceSum(tensors);
}

absl::StatusOr<double> LearnerCore::Session::Step(TrainStats* stats) {
  touched = true;
  RETURN_IF_ERROR(AgreeToContinue());
  std::vector<at::Tensor> params = trainable;
  params.insert(params.end(), critic_trainable.begin(), critic_trainable.end());
  if (world->size() > 1) {
    // Parameters without a gradient on every rank keep none (AdamW skips them, as on one
    // process); one with a gradient anywhere gets zeros where it has none, then the sum.
    std::vector<double> has(params.size());
    for (size_t i = 0; i < params.size(); ++i) has[i] = params[i].grad().defined() ? 1 : 0;
    ASSIGN_OR_RETURN(has, world->AllReduceSum(has));
    std::vector<at::Tensor> grads;
    for (size_t i = 0; i < params.size(); ++i) {
      if (has[i] == 0) continue;
      if (!params[i].grad().defined()) params[i].mutable_grad() = torch::zeros_like(params[i]);
      grads.push_back(params[i].grad());
    }
    RETURN_IF_ERROR(world->AllReduceSum(grads));
  }
  // The policy and the critic are clipped apart, each to max_grad_norm (as OpenRLHF does), and
  // follow the same schedule from their own peak rates. The norms are taken after the sum, so
  // every rank sees the same ones and decides alike.
  const double clip =
      options.max_grad_norm > 0 ? options.max_grad_norm : std::numeric_limits<double>::infinity();
  const double norm = torch::nn::utils::clip_grad_norm_(trainable, clip);
  const double critic_norm =
      critic ? torch::nn::utils::clip_grad_norm_(critic_trainable, clip) : 0.0;
  if (!std::isfinite(norm) || !std::isfinite(critic_norm)) {
    ZeroGrad();
    return absl::FailedPreconditionError(
        absl::StrCat(std::isfinite(norm) ? "the critic's" : "the", " gradient norm is not finite (",
                     std::isfinite(norm) ? critic_norm : norm,
                     "); no optimizer step was applied for it: ", WhatStays()));
  }
  const double lr = train::LearningRateAt(options.optimizer.lr, static_cast<int64_t>(steps),
                                          options.total_steps, options.schedule);
  train::SetLearningRate(*optimizer, lr);
  optimizer->step();
  if (critic) {
    const double critic_lr =
        train::LearningRateAt(options.ppo.critic_learning_rate.value_or(options.optimizer.lr),
                              static_cast<int64_t>(steps), options.total_steps, options.schedule);
    train::SetLearningRate(*critic_optimizer, critic_lr);
    critic_optimizer->step();
    stats->metrics["critic/grad_norm"] = critic_norm;
    stats->metrics["critic/learning_rate"] = critic_lr;
  }
  ZeroGrad();
  ++steps;
  ++version;
  stats->learning_rate = lr;
  stats->grad_norm = norm;
  ++stats->optimizer_steps;
  Report();
  return norm;
}

void LearnerCore::Session::CloseCall(TrainStats* stats,
                                     std::chrono::steady_clock::time_point start) {
  stats->policy_version = version;
  stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++train_calls;
  Report();
}

double LearnerCore::Session::OfflineScale() const {
  return 1.0 / std::max(1, options.gradient_accumulation_steps);
}

absl::Status LearnerCore::Session::FinishOfflineCall(TrainStats* stats) {
  if (accumulated_calls + 1 < std::max(1, options.gradient_accumulation_steps)) {
    // No step yet, but the ranks still decide together whether this call stands.
    RETURN_IF_ERROR(AgreeToContinue());
    ++accumulated_calls;
    stats->learning_rate = train::LearningRateAt(options.optimizer.lr, static_cast<int64_t>(steps),
                                                 options.total_steps, options.schedule);
    stats->metrics["accumulated_calls"] = accumulated_calls;
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Step(stats).status());
  accumulated_calls = 0;
  return absl::OkStatus();
}

LearnerCore::LearnerCore(Storage storage)
    : storage_(std::move(storage)), own_world_(train::World::Single()), world_(own_world_.get()) {}
LearnerCore::LearnerCore(Storage storage, train::World* world)
    : storage_(std::move(storage)), world_(world) {}
LearnerCore::~LearnerCore() = default;

int LearnerCore::rank() const { return world_->rank(); }
int LearnerCore::world_size() const { return world_->size(); }

absl::StatusOr<LearnerCore::Session*> LearnerCore::Find(const std::string& id) {
  if (session_ == nullptr || session_->id != id) {
    return absl::NotFoundError(absl::StrCat("no session ", Echo(id)));
  }
  return session_.get();
}

absl::StatusOr<SessionStatus> LearnerCore::StartSession(const SessionOptions& options,
                                                        const std::string& key, bool replace_active,
                                                        bool* created, const std::string& id) {
  absl::MutexLock lock(&mu_);
  *created = false;
  if (session_ != nullptr) {
    if (!key.empty() && session_->key == key) return session_->State();
    if (!replace_active) {
      return absl::FailedPreconditionError(
          absl::StrCat("session '", session_->id, "' is active; end it or set replace_active"));
    }
  }
  // A bad request leaves the active session as it is.
  RETURN_IF_ERROR(options.Validate());
  if (options.policy_path.empty()) {
    return absl::InvalidArgumentError("policy_checkpoint is required");
  }
  ASSIGN_OR_RETURN(const fs::path dir,
                   storage_.ModelFolder(options.policy_path, "policy_checkpoint"));
  if (std::error_code ec; !fs::exists(dir / "config.json", ec)) {
    return absl::NotFoundError(
        absl::StrCat("policy_checkpoint: ", Echo(options.policy_path), ": no config.json"));
  }
  ASSIGN_OR_RETURN(const LearnerAlgorithmKind* kind, LearnerAlgorithmOf(options.algorithm));
  const bool separate_critic =
      kind->rollout_update == RolloutUpdate::kPpo && options.ppo.separate_critic;
  fs::path value_dir = dir;  // a separate critic starts from the policy's trunk by default
  if (separate_critic && !options.value_path.empty()) {
    ASSIGN_OR_RETURN(value_dir, storage_.ModelFolder(options.value_path, "value_checkpoint"));
    if (std::error_code ec; !fs::exists(value_dir / "config.json", ec)) {
      return absl::NotFoundError(
          absl::StrCat("value_checkpoint: ", Echo(options.value_path), ": no config.json"));
    }
  }
  SetSession(nullptr);
  auto s = std::make_unique<Session>();
  s->options = options;
  s->world = world_;
  uint64_t seed = options.seed;
  if (seed == 0) seed = std::random_device{}();
  s->options.seed = seed;
  torch::manual_seed(seed);
  ASSIGN_OR_RETURN(model::ModelPlacement placement,
                   model::ParsePlacement(options.dtype, options.device));
  RETURN_IF_ERROR(TorchBoundary("loading the policy", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(model::ModelConfig config, checkpoint::ReadHfConfig(dir / "config.json"));
    // A reward model needs a reward head: the checkpoint's, or a new one of one output.
    if (kind->TrainsRewardHead() && config.num_reward_outputs < 1) {
      config.num_reward_outputs = 1;
      config.reward_readout = options.reward_model.readout.value_or(config.reward_readout);
    } else if (kind->TrainsRewardHead() && options.reward_model.readout.has_value() &&
               *options.reward_model.readout != config.reward_readout) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config.reward_model.readout: ", model::RewardReadoutName(*options.reward_model.readout),
          " asked, but the checkpoint's reward head reads ",
          model::RewardReadoutName(config.reward_readout),
          " (plumb_reward_readout in config.json); leave readout unset to keep it"));
    }
    ASSIGN_OR_RETURN(checkpoint::TensorMap tensors, checkpoint::ReadSafetensorsCheckpoint(dir));
    const bool has_value_head = tensors.count("value_head.weight") > 0;
    const bool has_reward_head = tensors.count("score.weight") > 0;
    s->policy = model::Transformer(config);
    s->policy->to(placement.dtype);
    RETURN_IF_ERROR(model::ImportHfTensors(*s->policy, std::move(tensors), dir.string()));
    // Heads the checkpoint lacks start from the session's seed alone (normal(0, 0.02), as the
    // model's initialisation), not from whatever else drew from LibTorch's global generator.
    {
      at::Generator heads = at::make_generator<at::CPUGeneratorImpl>(seed);
      torch::NoGradGuard no_grad;
      for (auto [present, head] : {std::make_pair(has_value_head, &s->policy->value_head()),
                                   std::make_pair(has_reward_head, &s->policy->reward_head())}) {
        if (present || !head->defined()) continue;
        head->copy_(at::normal(0.0, 0.02, head->sizes(), heads));
      }
    }
    s->policy->to(placement.device);
    if (options.lora.has_value()) RETURN_IF_ERROR(model::ApplyLora(*s->policy, *options.lora));
    s->policy->train();
    s->policy->set_gradient_checkpointing(options.gradient_checkpointing);
    if (separate_critic) RETURN_IF_ERROR(s->LoadCritic(value_dir, placement, seed));
    if (world_->size() > 1) {
      // Every rank starts from rank 0's parameters (new heads and adapters included).
      std::vector<at::Tensor> all;
      torch::NoGradGuard no_grad;
      for (const at::Tensor& p : s->policy->parameters()) all.push_back(p.data());
      if (s->critic) {
        for (const at::Tensor& p : s->critic->parameters()) all.push_back(p.data());
      }
      RETURN_IF_ERROR(world_->Broadcast(all));
    }
    s->trainable = model::TrainableParameters(*s->policy);
    s->optimizer = train::MakeAdamW(s->trainable, options.optimizer);
    return absl::OkStatus();
  }));
  algorithms::KlControllerOptions kl;
  kl.init_kl_coef = options.ppo.kl_coef;
  kl.target_kl = options.ppo.kl_target;
  kl.horizon = static_cast<double>(options.ppo.kl_horizon);
  ASSIGN_OR_RETURN(s->kl, algorithms::KlController::Create(kl));
  s->version = ReadVersion(dir);
  if (id.empty()) {
    std::random_device random;
    s->id = absl::StrFormat("s-%08x%08x", random(), random());
  } else {
    s->id = id;
  }
  s->key = key;
  s->model = {s->policy->config(), placement.dtype, options.device, dir.string(), absl::Now()};
  if (s->critic) {
    s->model.critic = s->critic->config();
    s->model.critic_source = value_dir.string();
  }
  SetSession(std::move(s));
  *created = true;
  return session_->State();
}

void LearnerCore::SetSession(std::unique_ptr<Session> session) {
  session_ = std::move(session);
  if (session_ != nullptr) {
    session_->snapshot = &snapshot_;
    session_->Report();
  }
  if (session_ != nullptr) return;
  absl::MutexLock lock(&snapshot_.mu);
  snapshot_.status.reset();
  snapshot_.model.reset();
}

std::optional<SessionStatus> LearnerCore::Status() const {
  absl::MutexLock lock(&snapshot_.mu);
  return snapshot_.status;
}

std::optional<ModelDescription> LearnerCore::Model() const {
  absl::MutexLock lock(&snapshot_.mu);
  return snapshot_.model;
}

absl::StatusOr<PolicyWeights> LearnerCore::Weights(const std::string& id, c10::ScalarType dtype) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  return TorchBoundary("exporting weights", [&]() -> absl::StatusOr<PolicyWeights> {
    PolicyWeights out;
    torch::NoGradGuard no_grad;
    // A snapshot: the export aliases the live parameters, which the next Train changes in place
    // while the weights may still be streaming.
    for (auto& [name, t] : model::ExportHfTensors(*s->policy)) {
      at::Tensor copy = t.to(torch::kCPU).to(dtype).contiguous();
      if (copy.is_alias_of(t)) copy = copy.clone();
      out.tensors[name] = std::move(copy);
    }
    out.version = s->version;
    out.architecture = s->policy->config().Architecture();
    return out;
  });
}

absl::StatusOr<CheckpointInfo> LearnerCore::SaveCheckpoint(const std::string& id,
                                                           const std::string& path,
                                                           bool weights_only, bool overwrite) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  ASSIGN_OR_RETURN(const fs::path dir, storage_.CheckpointFolder(path));
  RETURN_IF_ERROR(TorchBoundary("saving the checkpoint", [&] {
    return storage_.WriteCheckpoint(dir, overwrite, [&](const fs::path& into) -> absl::Status {
      RETURN_IF_ERROR(model::SaveHfModel(*s->policy, into));
      std::ofstream version(into / kVersionFile);
      version << s->version << "\n";
      if (!version) return absl::InternalError("could not write the policy version");
      RETURN_IF_ERROR(s->SaveCritic(into, weights_only));
      if (weights_only) return absl::OkStatus();
      train::RunState state;
      state.step = static_cast<int64_t>(s->version);
      state.total_steps = s->options.total_steps;
      state.kind = "learner";
      state.batch_size = 0;
      return train::SaveTrainingCheckpoint(into / "state", *s->policy, *s->optimizer, state, 1)
          .status();
    });
  }));
  return CheckpointInfo{dir.string(), s->version};
}

absl::StatusOr<CheckpointInfo> LearnerCore::LoadCheckpoint(const std::string& id,
                                                           const std::string& path,
                                                           bool weights_only) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  ASSIGN_OR_RETURN(const fs::path dir, storage_.CheckpointFolder(path));
  if (std::error_code ec; !fs::exists(dir / "config.json", ec)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", Echo(path)));
  }
  if (weights_only) {
    RETURN_IF_ERROR(TorchBoundary("loading weights", [&]() -> absl::Status {
      ASSIGN_OR_RETURN(checkpoint::TensorMap tensors, checkpoint::ReadSafetensorsCheckpoint(dir));
      {
        torch::NoGradGuard no_grad;
        RETURN_IF_ERROR(model::ImportHfTensors(*s->policy, std::move(tensors), dir.string()));
      }
      return s->LoadCriticCheckpoint(dir, /*weights_only=*/true);
    }));
    s->version = ReadVersion(dir);
    s->model.source = dir.string();
    s->model.loaded = absl::Now();
    s->Report();
    return CheckpointInfo{dir.string(), s->version};
  }
  std::optional<fs::path> latest = train::LatestCheckpoint(dir / "state");
  if (!latest.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(Echo(path), " holds weights only (load it with weights_only)"));
  }
  RETURN_IF_ERROR(TorchBoundary("loading the checkpoint", [&]() -> absl::Status {
    // The critic first: a checkpoint without one is refused before the policy changes.
    RETURN_IF_ERROR(s->LoadCriticCheckpoint(dir, /*weights_only=*/false));
    ASSIGN_OR_RETURN(train::RunState state,
                     train::LoadTrainingCheckpoint(*latest, *s->policy, *s->optimizer));
    s->version = static_cast<uint64_t>(state.step);
    return absl::OkStatus();
  }));
  s->error.clear();
  s->model.source = dir.string();
  s->model.loaded = absl::Now();
  s->Report();
  return CheckpointInfo{dir.string(), s->version};
}

absl::StatusOr<uint64_t> LearnerCore::EndSession(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  const uint64_t version = s->version;
  SetSession(nullptr);
  return version;
}

}  // namespace plumb::learner
