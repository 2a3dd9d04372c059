#include "services/plumb-learner/learner_core.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/algorithms/advantages.h"
#include "common/algorithms/policy_loss.h"
#include "common/checkpoint/hf_config.h"
#include "common/checkpoint/sharded_checkpoint.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/status/status_macros.h"
#include "common/train/optimizer.h"
#include "common/train/training_checkpoint.h"

namespace plumb::learner {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kVersionFile[] = "plumb_policy_version";

template <typename Fn>
auto Guard(const std::string& what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what_without_backtrace()));
  }
}

uint64_t ReadVersion(const fs::path& dir) {
  std::ifstream in(dir / kVersionFile);
  uint64_t version = 0;
  if (in) in >> version;
  return version;
}

// Every sequence must fit the model: tokens in the vocabulary, non-empty parts, length limit.
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

absl::Status CheckFinite(const std::string& what, const std::vector<float>& values) {
  for (float v : values) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat(what, " is not finite"));
  }
  return absl::OkStatus();
}

// [rows, width] float tensor from ragged rows (zero-padded).
at::Tensor Padded(const std::vector<std::vector<float>>& rows, int64_t width) {
  at::Tensor out = torch::zeros({static_cast<int64_t>(rows.size()), width});
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t t = 0; t < rows[i].size(); ++t) out[i][t] = rows[i][t];
  }
  return out;
}

}  // namespace

struct LearnerCore::Session {
  std::string id;
  std::string key;
  SessionOptions options;
  model::Transformer policy{nullptr};
  std::vector<at::Tensor> trainable;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  algorithms::KlController kl = algorithms::KlController::Fixed(0.0);
  uint64_t version = 0;
  uint64_t steps = 0;
  uint64_t train_calls = 0;
  std::string error;

  // One SFT step (token-mean cross-entropy on completions, weighted per example).
  absl::StatusOr<TrainStats> Sft(const std::vector<SftExample>& batch) {
    const SessionOptions& o = options;
    if (batch.empty()) return absl::InvalidArgumentError("an empty SFT batch");
    const model::ModelConfig& config = policy->config();
    double weighted_tokens = 0;
    for (const SftExample& e : batch) {
      const std::string what = absl::StrCat("example '", e.id, "'");
      if (e.completion.empty()) return absl::InvalidArgumentError(what + ": empty completion");
      // An empty prompt is allowed: the completion's first token is then not predicted.
      const std::vector<int64_t> prompt =
          e.prompt.empty() ? std::vector<int64_t>{e.completion.front()} : e.prompt;
      RETURN_IF_ERROR(
          CheckSequence(config, o.max_sequence_length, what, prompt,
                        e.prompt.empty() && !e.completion.empty()
                            ? std::vector<int64_t>(e.completion.begin() + 1, e.completion.end())
                            : e.completion));
      if (!(e.weight >= 0) || !std::isfinite(e.weight)) {
        return absl::InvalidArgumentError(absl::StrCat(what, ": weight must be >= 0"));
      }
      weighted_tokens += e.weight * static_cast<double>(e.completion.size());
    }
    if (weighted_tokens <= 0) return absl::InvalidArgumentError("every example has weight 0");
    return Guard("SFT update", [&]() -> absl::StatusOr<TrainStats> {
      const auto start = Clock::now();
      TrainStats stats;
      const int64_t n = static_cast<int64_t>(batch.size());
      const int64_t micro = o.micro_batch_size > 0 ? o.micro_batch_size : n;
      double nll_sum = 0;
      optimizer->zero_grad();
      for (int64_t a = 0; a < n; a += micro) {
        const int64_t b = std::min(n, a + micro);
        std::vector<std::vector<int64_t>> prompts, responses;
        std::vector<float> weights;
        for (int64_t i = a; i < b; ++i) {
          const SftExample& e = batch[i];
          if (e.prompt.empty()) {
            prompts.push_back({e.completion.front()});
            responses.emplace_back(e.completion.begin() + 1, e.completion.end());
          } else {
            prompts.push_back(e.prompt);
            responses.push_back(e.completion);
          }
          weights.push_back(static_cast<float>(e.weight));
        }
        ASSIGN_OR_RETURN(model::ResponseScores scores,
                         model::ScoreResponses(*policy, prompts, responses));
        const at::Tensor per_sequence = -(scores.logprobs * scores.mask).sum(1);
        const at::Tensor weighted = per_sequence * torch::tensor(weights).to(per_sequence.device());
        (weighted.sum() / weighted_tokens).backward();
        nll_sum += weighted.sum().item<double>();
        stats.tokens += static_cast<uint64_t>(scores.mask.sum().item<double>());
      }
      RETURN_IF_ERROR(Step(&stats).status());
      stats.losses["sft"] = nll_sum / weighted_tokens;
      stats.losses["total"] = nll_sum / weighted_tokens;
      stats.sequences = static_cast<uint64_t>(n);
      stats.policy_version = version;
      stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      ++train_calls;
      return stats;
    });
  }

  // One optimizer step on accumulated gradients; returns the gradient norm before clipping.
  absl::StatusOr<double> Step(TrainStats* stats) {
    const double lr = train::LearningRateAt(options.optimizer.lr, static_cast<int64_t>(steps),
                                            options.total_steps, options.schedule);
    train::SetLearningRate(*optimizer, lr);
    const double norm = torch::nn::utils::clip_grad_norm_(
        trainable, options.max_grad_norm > 0 ? options.max_grad_norm
                                             : std::numeric_limits<double>::infinity());
    if (!std::isfinite(norm)) {
      optimizer->zero_grad();
      return absl::InternalError(
          absl::StrCat("the gradient norm is not finite (", norm, "); the step was not applied"));
    }
    optimizer->step();
    optimizer->zero_grad();
    ++steps;
    ++version;
    stats->learning_rate = lr;
    stats->grad_norm = norm;
    ++stats->optimizer_steps;
    return norm;
  }
};

LearnerCore::LearnerCore() = default;
LearnerCore::~LearnerCore() = default;

absl::StatusOr<LearnerCore::Session*> LearnerCore::Find(const std::string& id) {
  if (session_ == nullptr || session_->id != id) {
    return absl::NotFoundError(absl::StrCat("no session '", id, "'"));
  }
  return session_.get();
}

absl::StatusOr<SessionStatus> LearnerCore::StartSession(const SessionOptions& options,
                                                        const std::string& key, bool replace_active,
                                                        bool* created) {
  absl::MutexLock lock(&mu_);
  *created = false;
  if (session_ != nullptr) {
    if (!key.empty() && session_->key == key) return *StatusLocked();
    if (!replace_active) {
      return absl::FailedPreconditionError(
          absl::StrCat("session '", session_->id, "' is active; end it or set replace_active"));
    }
    session_.reset();
  }
  if (options.policy_path.empty()) {
    return absl::InvalidArgumentError("policy_checkpoint is required");
  }
  const fs::path dir(options.policy_path);
  if (!fs::exists(dir / "config.json")) {
    return absl::NotFoundError(absl::StrCat(options.policy_path, ": no config.json"));
  }
  auto s = std::make_unique<Session>();
  s->options = options;
  uint64_t seed = options.seed;
  if (seed == 0) seed = std::random_device{}();
  s->options.seed = seed;
  torch::manual_seed(seed);
  ASSIGN_OR_RETURN(model::ModelPlacement placement,
                   model::ParsePlacement(options.dtype, options.device));
  RETURN_IF_ERROR(Guard("loading the policy", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(model::ModelConfig config, checkpoint::ReadHfConfig(dir / "config.json"));
    ASSIGN_OR_RETURN(checkpoint::TensorMap tensors, checkpoint::ReadSafetensorsCheckpoint(dir));
    s->policy = model::Transformer(config);
    s->policy->to(placement.dtype);
    RETURN_IF_ERROR(model::ImportHfTensors(*s->policy, std::move(tensors), dir.string()));
    s->policy->to(placement.device);
    if (options.lora.has_value()) RETURN_IF_ERROR(model::ApplyLora(*s->policy, *options.lora));
    s->policy->train();
    return absl::OkStatus();
  }));
  s->trainable = model::TrainableParameters(*s->policy);
  s->optimizer = train::MakeAdamW(s->trainable, options.optimizer);
  algorithms::KlControllerOptions kl;
  kl.init_kl_coef = options.ppo.kl_coef;
  kl.target_kl = options.ppo.kl_target;
  kl.horizon = static_cast<double>(options.ppo.kl_horizon);
  ASSIGN_OR_RETURN(s->kl, algorithms::KlController::Create(kl));
  s->version = ReadVersion(dir);
  std::random_device random;
  s->id = absl::StrFormat("s-%08x%08x", random(), random());
  s->key = key;
  session_ = std::move(s);
  *created = true;
  return *StatusLocked();
}

std::optional<SessionStatus> LearnerCore::Status() const {
  absl::MutexLock lock(&mu_);
  return StatusLocked();
}

std::optional<SessionStatus> LearnerCore::StatusLocked() const {
  if (session_ == nullptr) return std::nullopt;
  SessionStatus status;
  status.id = session_->id;
  status.active = true;
  status.policy_version = session_->version;
  status.optimizer_steps = session_->steps;
  status.train_calls = session_->train_calls;
  status.error = session_->error;
  return status;
}

std::optional<model::ModelConfig> LearnerCore::ModelConfigOf() const {
  absl::MutexLock lock(&mu_);
  if (session_ == nullptr) return std::nullopt;
  return session_->policy->config();
}

namespace {

// Claims the session for one Train call; ABORTED when another one runs.
class TrainingClaim {
 public:
  explicit TrainingClaim(std::atomic<bool>* flag) : flag_(flag) {
    bool expected = false;
    owned_ = flag_->compare_exchange_strong(expected, true);
  }
  ~TrainingClaim() {
    if (owned_) flag_->store(false);
  }
  bool owned() const { return owned_; }

 private:
  std::atomic<bool>* flag_;
  bool owned_ = false;
};

}  // namespace

absl::StatusOr<TrainStats> LearnerCore::TrainExperience(const std::string& id,
                                                        const std::vector<Experience>& batch,
                                                        double temperature) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  const SessionOptions& o = s->options;
  if (o.algorithm != Algorithm::kPpo && o.algorithm != Algorithm::kRejectionSamplingSft) {
    return absl::InvalidArgumentError(
        "this session's algorithm does not train on experience batches");
  }
  if (batch.empty()) return absl::InvalidArgumentError("an empty experience batch");
  const model::ModelConfig& config = s->policy->config();
  for (size_t i = 0; i < batch.size(); ++i) {
    const Experience& e = batch[i];
    const std::string what = absl::StrCat("experience ", i);
    RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length, what, e.prompt, e.response));
    if (!std::isfinite(e.reward)) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": the reward is not finite"));
    }
    if (!e.logprobs.empty() && e.logprobs.size() != e.response.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": ", e.logprobs.size(), " log-probs for ", e.response.size(), " response tokens"));
    }
    RETURN_IF_ERROR(CheckFinite(what + " log-probs", e.logprobs));
    if (o.algorithm == Algorithm::kPpo && o.ppo.kl_coef > 0 &&
        e.ref_logprobs.size() != e.response.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", e.ref_logprobs.size(), " reference log-probs for ",
                       e.response.size(), " response tokens (the KL penalty needs one per token)"));
    }
    RETURN_IF_ERROR(CheckFinite(what + " reference log-probs", e.ref_logprobs));
  }
  if (o.algorithm == Algorithm::kRejectionSamplingSft) {
    // The best top_n of each prompt group (highest reward first; the earlier sample wins ties).
    std::map<std::string, std::vector<size_t>> groups;
    for (size_t i = 0; i < batch.size(); ++i) groups[batch[i].group].push_back(i);
    std::vector<SftExample> selected;
    double reward_sum = 0;
    for (auto& [group, members] : groups) {
      std::stable_sort(members.begin(), members.end(),
                       [&](size_t a, size_t b) { return batch[a].reward > batch[b].reward; });
      int kept = 0;
      for (size_t i : members) {
        const Experience& e = batch[i];
        if (kept >= o.rejection_sampling.top_n) break;
        if (o.rejection_sampling.min_reward.has_value() &&
            e.reward < *o.rejection_sampling.min_reward) {
          continue;
        }
        if (o.rejection_sampling.drop_truncated && !e.stopped) continue;
        selected.push_back({group, e.prompt, e.response, 1.0});
        reward_sum += e.reward;
        ++kept;
      }
    }
    if (selected.empty()) {
      return absl::InvalidArgumentError("no sample passed the rejection-sampling filters");
    }
    absl::StatusOr<TrainStats> stats = s->Sft(selected);
    if (stats.ok()) {
      stats->metrics["rs/selected"] = static_cast<double>(selected.size());
      stats->metrics["rs/selected_reward_mean"] = reward_sum / selected.size();
    }
    return stats;
  }
  return Guard("PPO update", [&]() -> absl::StatusOr<TrainStats> {
    const auto start = Clock::now();
    TrainStats stats;
    const int64_t n = static_cast<int64_t>(batch.size());
    int64_t width = 0;
    for (const Experience& e : batch) width = std::max<int64_t>(width, e.response.size());
    const int64_t micro = o.micro_batch_size > 0 ? o.micro_batch_size : n;
    // 1. Behaviour log-probs and values under the current weights, without gradients.
    at::Tensor old_logp = torch::zeros({n, width}), old_values = torch::zeros({n, width});
    at::Tensor mask = torch::zeros({n, width});
    {
      torch::NoGradGuard no_grad;
      for (int64_t a = 0; a < n; a += micro) {
        const int64_t b = std::min(n, a + micro);
        std::vector<std::vector<int64_t>> prompts, responses;
        for (int64_t i = a; i < b; ++i) {
          prompts.push_back(batch[i].prompt);
          responses.push_back(batch[i].response);
        }
        ASSIGN_OR_RETURN(model::ResponseScores scores,
                         model::ScoreResponses(*s->policy, prompts, responses, temperature));
        const int64_t w = scores.logprobs.size(1);
        old_logp.narrow(0, a, b - a).narrow(1, 0, w).copy_(scores.logprobs.to(torch::kCPU));
        old_values.narrow(0, a, b - a)
            .narrow(1, 0, w)
            .copy_(s->policy->Values(scores.hidden).to(torch::kFloat).to(torch::kCPU));
        mask.narrow(0, a, b - a).narrow(1, 0, w).copy_(scores.mask.to(torch::kCPU));
      }
    }
    std::vector<std::vector<float>> given, refs;
    bool all_given = true;
    std::vector<float> rewards;
    for (const Experience& e : batch) {
      given.push_back(e.logprobs);
      all_given = all_given && !e.logprobs.empty();
      refs.push_back(e.ref_logprobs);
      rewards.push_back(static_cast<float>(e.reward));
    }
    if (all_given) old_logp = Padded(given, width);
    const at::Tensor scores = torch::tensor(rewards);
    stats.reward_mean = scores.mean().item<double>();
    stats.reward_std = n > 1 ? scores.std().item<double>() : 0.0;
    // 2. KL-shaped rewards, GAE and whitened advantages over the whole batch.
    const double kl_coef = s->kl.value();
    at::Tensor kl = torch::zeros({n, width});
    if (kl_coef > 0)
      kl = algorithms::ApproxKl(old_logp, Padded(refs, width), o.ppo.kl_estimator) * mask;
    std::optional<std::pair<double, double>> clip;
    if (o.ppo.reward_clip.has_value())
      clip = std::make_pair(-*o.ppo.reward_clip, *o.ppo.reward_clip);
    const at::Tensor shaped = algorithms::KlShapedReward(scores, kl, mask, kl_coef, clip);
    const algorithms::GaeResult gae =
        algorithms::Gae(old_values, shaped, mask, o.ppo.gamma, o.ppo.lambda);
    const at::Tensor advantages =
        o.ppo.whiten_advantages
            ? algorithms::WhitenAdvantages(gae.advantages, mask, algorithms::WhitenStyle::kOpenRlhf)
            : gae.advantages;
    const double mean_kl = kl.sum(1).mean().item<double>();
    stats.kl = mean_kl;
    stats.kl_coef = kl_coef;
    // 3. Epochs of minibatches, one optimizer step each.
    algorithms::PolicyLossOptions policy_options;
    policy_options.clip_eps_low = o.ppo.clip_low;
    policy_options.clip_eps_high = o.ppo.clip_high;
    policy_options.dual_clip = o.ppo.dual_clip;
    const int64_t minibatch = o.ppo.minibatch_size > 0 ? o.ppo.minibatch_size : n;
    double policy_sum = 0, value_sum = 0, clip_sum = 0, approx_kl_sum = 0, value_error_sum = 0;
    double weight_sum = 0;
    s->optimizer->zero_grad();
    for (int epoch = 0; epoch < std::max(1, o.ppo.epochs); ++epoch) {
      for (int64_t m0 = 0; m0 < n; m0 += minibatch) {
        const int64_t m1 = std::min(n, m0 + minibatch);
        const double mb_tokens = mask.narrow(0, m0, m1 - m0).sum().item<double>();
        for (int64_t a = m0; a < m1; a += micro) {
          const int64_t b = std::min(m1, a + micro);
          std::vector<std::vector<int64_t>> prompts, responses;
          for (int64_t i = a; i < b; ++i) {
            prompts.push_back(batch[i].prompt);
            responses.push_back(batch[i].response);
          }
          ASSIGN_OR_RETURN(model::ResponseScores now,
                           model::ScoreResponses(*s->policy, prompts, responses, temperature));
          const int64_t w = now.logprobs.size(1);
          auto slice = [&](const at::Tensor& t) {
            return t.narrow(0, a, b - a).narrow(1, 0, w).to(now.logprobs.device());
          };
          const at::Tensor m = slice(mask);
          const at::Tensor values = s->policy->Values(now.hidden).to(torch::kFloat);
          const algorithms::PolicyLossResult pl = algorithms::PpoPolicyLoss(
              now.logprobs, slice(old_logp), slice(advantages), m, policy_options);
          const at::Tensor vl = algorithms::ClippedValueLoss(
              values, slice(old_values), slice(gae.returns), m, o.ppo.value_clip, true);
          const double share = m.sum().item<double>() / std::max(1.0, mb_tokens);
          ((pl.loss + o.ppo.value_loss_coef * vl) * share).backward();
          policy_sum += pl.loss.item<double>() * share;
          value_sum += vl.item<double>() * share;
          clip_sum += pl.clip_ratio.item<double>() * share;
          approx_kl_sum += pl.approx_kl.item<double>() * share;
          value_error_sum +=
              (((values.detach() - slice(gae.returns)).pow(2) * m).sum() / m.sum().clamp_min(1))
                  .item<double>() *
              share;
          stats.tokens += static_cast<uint64_t>(m.sum().item<double>());
        }
        weight_sum += 1;
        RETURN_IF_ERROR(s->Step(&stats).status());
      }
    }
    s->kl.Update(mean_kl, n);
    stats.losses["policy"] = policy_sum / weight_sum;
    stats.losses["value"] = value_sum / weight_sum;
    stats.losses["total"] = stats.losses["policy"] + o.ppo.value_loss_coef * stats.losses["value"];
    stats.clip_fraction = clip_sum / weight_sum;
    stats.value_error = value_error_sum / weight_sum;
    stats.metrics["ppo/approx_kl"] = approx_kl_sum / weight_sum;
    stats.sequences = static_cast<uint64_t>(n) * std::max(1, o.ppo.epochs);
    stats.policy_version = s->version;
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ++s->train_calls;
    return stats;
  });
}

absl::StatusOr<TrainStats> LearnerCore::TrainPreference(
    const std::string& id, const std::vector<PreferenceExample>& batch) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  const SessionOptions& o = s->options;
  if (o.algorithm != Algorithm::kDpo) {
    return absl::InvalidArgumentError(
        "this session's algorithm does not train on preference batches");
  }
  if (batch.empty()) return absl::InvalidArgumentError("an empty preference batch");
  const model::ModelConfig& config = s->policy->config();
  for (const PreferenceExample& p : batch) {
    const std::string what = absl::StrCat("pair '", p.id, "'");
    RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length, what, p.prompt, p.chosen));
    RETURN_IF_ERROR(CheckSequence(config, o.max_sequence_length, what, p.prompt, p.rejected));
    if (!o.dpo.reference_free && (!p.ref_chosen.has_value() || !p.ref_rejected.has_value())) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": reference log-probs are required (or set reference_free)"));
    }
    if ((p.ref_chosen && !std::isfinite(*p.ref_chosen)) ||
        (p.ref_rejected && !std::isfinite(*p.ref_rejected))) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": a reference log-prob is not finite"));
    }
  }
  return Guard("DPO update", [&]() -> absl::StatusOr<TrainStats> {
    const auto start = Clock::now();
    TrainStats stats;
    const int64_t n = static_cast<int64_t>(batch.size());
    const int64_t micro = o.micro_batch_size > 0 ? o.micro_batch_size : n;
    double loss_sum = 0, accuracy = 0, margin = 0, chosen_reward = 0, rejected_reward = 0;
    s->optimizer->zero_grad();
    for (int64_t a = 0; a < n; a += micro) {
      const int64_t b = std::min(n, a + micro);
      std::vector<std::vector<int64_t>> prompts, responses;
      std::vector<float> ref_c, ref_r;
      for (int64_t i = a; i < b; ++i) {
        prompts.push_back(batch[i].prompt);
        responses.push_back(batch[i].chosen);
        ref_c.push_back(static_cast<float>(batch[i].ref_chosen.value_or(0)));
        ref_r.push_back(static_cast<float>(batch[i].ref_rejected.value_or(0)));
      }
      for (int64_t i = a; i < b; ++i) {
        prompts.push_back(batch[i].prompt);
        responses.push_back(batch[i].rejected);
      }
      ASSIGN_OR_RETURN(model::ResponseScores scores,
                       model::ScoreResponses(*s->policy, prompts, responses));
      const at::Tensor sums = (scores.logprobs * scores.mask).sum(1);
      const at::Tensor counts = scores.mask.sum(1);
      const int64_t k = b - a;
      const auto device = sums.device();
      const algorithms::PreferenceLoss dpo = algorithms::DpoLoss(
          sums.narrow(0, 0, k), sums.narrow(0, k, k), torch::tensor(ref_c).to(device),
          torch::tensor(ref_r).to(device), counts.narrow(0, 0, k), counts.narrow(0, k, k), o.dpo);
      (dpo.losses.sum() / static_cast<double>(n)).backward();
      loss_sum += dpo.losses.sum().item<double>();
      accuracy += (dpo.chosen_rewards > dpo.rejected_rewards).sum().item<double>();
      margin += (dpo.chosen_rewards - dpo.rejected_rewards).sum().item<double>();
      chosen_reward += dpo.chosen_rewards.sum().item<double>();
      rejected_reward += dpo.rejected_rewards.sum().item<double>();
      stats.tokens += static_cast<uint64_t>(counts.sum().item<double>());
    }
    RETURN_IF_ERROR(s->Step(&stats).status());
    stats.losses["dpo"] = loss_sum / n;
    stats.losses["total"] = loss_sum / n;
    stats.metrics["dpo/accuracy"] = accuracy / n;
    stats.metrics["dpo/margin"] = margin / n;
    stats.metrics["rewards/chosen"] = chosen_reward / n;
    stats.metrics["rewards/rejected"] = rejected_reward / n;
    stats.sequences = static_cast<uint64_t>(2 * n);
    stats.policy_version = s->version;
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ++s->train_calls;
    return stats;
  });
}

absl::StatusOr<TrainStats> LearnerCore::TrainSft(const std::string& id,
                                                 const std::vector<SftExample>& batch) {
  TrainingClaim claim(&training_);
  if (!claim.owned()) return absl::AbortedError("another Train call is running");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (s->options.algorithm != Algorithm::kSft &&
      s->options.algorithm != Algorithm::kRejectionSamplingSft) {
    return absl::InvalidArgumentError("this session's algorithm does not train on SFT batches");
  }
  return s->Sft(batch);
}

absl::StatusOr<PolicyWeights> LearnerCore::Weights(const std::string& id, c10::ScalarType dtype) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  return Guard("exporting weights", [&]() -> absl::StatusOr<PolicyWeights> {
    PolicyWeights out;
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : model::ExportHfTensors(*s->policy)) {
      out.tensors[name] = t.to(torch::kCPU).to(dtype).contiguous();
    }
    out.version = s->version;
    return out;
  });
}

absl::StatusOr<uint64_t> LearnerCore::SaveCheckpoint(const std::string& id, const std::string& path,
                                                     bool weights_only, bool overwrite) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  if (path.empty()) return absl::InvalidArgumentError("an empty checkpoint path");
  const fs::path dir(path);
  if (fs::exists(dir) && !overwrite) {
    return absl::AlreadyExistsError(absl::StrCat(path, " exists (set overwrite)"));
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  RETURN_IF_ERROR(Guard("saving the model", [&] { return model::SaveHfModel(*s->policy, dir); }));
  std::ofstream(dir / kVersionFile) << s->version << "\n";
  if (!weights_only) {
    train::RunState state;
    state.step = static_cast<int64_t>(s->version);
    state.total_steps = s->options.total_steps;
    state.kind = "learner";
    state.batch_size = 0;
    RETURN_IF_ERROR(
        train::SaveTrainingCheckpoint(dir / "state", *s->policy, *s->optimizer, state, 1).status());
  }
  return s->version;
}

absl::StatusOr<uint64_t> LearnerCore::LoadCheckpoint(const std::string& id, const std::string& path,
                                                     bool weights_only) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  const fs::path dir(path);
  if (path.empty()) return absl::InvalidArgumentError("an empty checkpoint path");
  if (!fs::exists(dir / "config.json")) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", path));
  }
  if (weights_only) {
    RETURN_IF_ERROR(Guard("loading weights", [&]() -> absl::Status {
      ASSIGN_OR_RETURN(checkpoint::TensorMap tensors, checkpoint::ReadSafetensorsCheckpoint(dir));
      torch::NoGradGuard no_grad;
      return model::ImportHfTensors(*s->policy, std::move(tensors), dir.string());
    }));
    s->version = ReadVersion(dir);
    return s->version;
  }
  std::optional<fs::path> latest = train::LatestCheckpoint(dir / "state");
  if (!latest.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " holds weights only (load it with weights_only)"));
  }
  ASSIGN_OR_RETURN(train::RunState state,
                   train::LoadTrainingCheckpoint(*latest, *s->policy, *s->optimizer));
  s->version = static_cast<uint64_t>(state.step);
  s->error.clear();
  return s->version;
}

absl::StatusOr<uint64_t> LearnerCore::EndSession(const std::string& id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Session * s, Find(id));
  const uint64_t version = s->version;
  session_.reset();
  return version;
}

}  // namespace plumb::learner
