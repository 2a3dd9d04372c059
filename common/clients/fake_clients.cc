#include "common/clients/fake_clients.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace plumb::clients {
namespace {

uint64_t Mix(uint64_t h, uint64_t v) {  // splitmix64 step over the running hash
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 29);
}

// Waits until the call is cancelled or `deadline`; CANCELLED or DEADLINE_EXCEEDED.
absl::Status WaitOut(const CallOptions& options, absl::Time deadline, const std::string& what) {
  absl::Mutex mu;
  bool cancelled = false;
  CancellationScope scope(options.cancellation, [&] {
    absl::MutexLock lock(&mu);
    cancelled = true;
  });
  absl::MutexLock lock(&mu);
  mu.AwaitWithDeadline(absl::Condition(&cancelled), deadline);
  if (cancelled) return absl::CancelledError(absl::StrCat(what, ": cancelled"));
  return absl::DeadlineExceededError(absl::StrCat(what, ": deadline exceeded"));
}

}  // namespace

void FakeReplica::SetFaults(FaultPlan plan) {
  absl::MutexLock lock(&mu_);
  plan_ = std::move(plan);
}

void FakeReplica::Lose() {
  absl::MutexLock lock(&mu_);
  plan_.lost = true;
}

int FakeReplica::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::Status FakeReplica::Enter(const CallOptions& options) {
  FaultPlan plan;
  int call = 0;
  {
    absl::MutexLock lock(&mu_);
    plan = plan_;
    call = ++calls_;
  }
  if (options.cancelled()) return absl::CancelledError("cancelled before the call");
  if (plan.lost) return absl::UnavailableError(absl::StrCat(endpoint_, ": connection refused"));
  const absl::Time deadline = absl::Now() + options.timeout.value_or(absl::Seconds(60));
  if (plan.hang) return WaitOut(options, deadline, endpoint_);
  if (plan.latency > absl::ZeroDuration()) {
    const absl::Time ready = absl::Now() + plan.latency;
    if (ready > deadline) return WaitOut(options, deadline, endpoint_);
    absl::Status waited = WaitOut(options, ready, endpoint_);
    if (absl::IsCancelled(waited)) return waited;
  }
  if (plan.fail_after_calls >= 0 && call > plan.fail_after_calls) return plan.failure;
  return absl::OkStatus();
}

// ---- FakeGenerator

absl::Status FakeGenerator::Generate(
    const generator::GenerateJob& job, const CallOptions& options,
    const std::function<bool(generator::RolloutResult)>& on_rollout) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  uint64_t version = 0;
  int lose_after = -1;
  {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(job);
    version = version_;
    lose_after = lose_after_;
  }
  if (job.min_policy_version.has_value() && version < *job.min_policy_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        endpoint_, " holds version ", version, " < min_policy_version ", *job.min_policy_version));
  }
  const int64_t samples = std::max<int64_t>(1, job.sampling.num_samples);
  const int64_t max_new = job.sampling.max_new_tokens > 0 ? job.sampling.max_new_tokens : 16;
  int emitted = 0;
  for (const generator::PromptInput& prompt : job.prompts) {
    std::vector<int64_t> prompt_ids = prompt.token_ids;
    if (prompt.text.has_value()) {
      prompt_ids.assign(prompt.text->begin(), prompt.text->end());  // bytes as token ids
      for (int64_t& id : prompt_ids) id &= 0xff;
    }
    for (int64_t k = 0; k < samples; ++k) {
      if (lose_after >= 0 && emitted >= lose_after) {
        Lose();
        return absl::UnavailableError(absl::StrCat(endpoint_, ": the stream broke (replica lost)"));
      }
      if (options.cancelled()) return absl::CancelledError("cancelled");
      uint64_t h = Mix(Mix(job.sampling.seed, static_cast<uint64_t>(k)), version);
      for (int64_t id : prompt_ids) h = Mix(h, static_cast<uint64_t>(id));
      generator::RolloutResult r;
      r.prompt_id = prompt.id;
      r.sample_index = k;
      r.prompt_ids = prompt_ids;
      const int64_t length = 1 + static_cast<int64_t>(h % static_cast<uint64_t>(max_new));
      for (int64_t t = 0; t < length; ++t) {
        h = Mix(h, static_cast<uint64_t>(t));
        const int64_t id = 97 + static_cast<int64_t>(h % 26);  // 'a'..'z'
        r.response_ids.push_back(id);
        r.response_text.push_back(static_cast<char>(id));
        if (job.sampling.return_logprobs) r.logprobs.push_back(-1.0f - 0.01f * (h % 50));
      }
      r.finish = length < max_new ? generator::Finish::kStop : generator::Finish::kLength;
      r.policy_version = version;
      ++emitted;
      if (!on_rollout(std::move(r))) return absl::CancelledError("the caller stopped");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<GeneratorStatus> FakeGenerator::GetStatus(const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  GeneratorStatus status;
  status.policy_version = policy_version();
  status.max_sequences_per_request = 4096;
  return status;
}

void FakeGenerator::LoseAfterRollouts(int rollouts) {
  absl::MutexLock lock(&mu_);
  lose_after_ = rollouts;
}

void FakeGenerator::SetPolicyVersion(uint64_t version) {
  absl::MutexLock lock(&mu_);
  version_ = version;
}

uint64_t FakeGenerator::policy_version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

std::vector<generator::GenerateJob> FakeGenerator::jobs() const {
  absl::MutexLock lock(&mu_);
  return jobs_;
}

// ---- FakeScorer

FakeScorer::FakeScorer(std::string endpoint, RewardFn reward)
    : FakeReplica(std::move(endpoint)),
      reward_(reward ? std::move(reward) : [](const scorer::ScoreInput& in) {
        return static_cast<double>(in.response_ids.size());
      }) {}

absl::StatusOr<std::vector<scorer::ScoreOutput>> FakeScorer::Score(
    const std::vector<scorer::ScoreInput>& items, const std::vector<std::string>& objectives,
    const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  std::vector<scorer::ScoreOutput> out;
  for (const scorer::ScoreInput& item : items) {
    scorer::ScoreOutput o;
    o.id = item.id;
    const double reward = reward_(item);
    o.scores.push_back({"fake", reward});
    o.reward = reward;
    out.push_back(std::move(o));
  }
  return out;
}

// ---- FakeReference

absl::StatusOr<reference::LogProbsOutcome> FakeReference::LogProbs(
    const reference::LogProbsJob& job, const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  {
    absl::MutexLock lock(&temperatures_mu_);
    temperatures_.push_back(job.temperature);
  }
  reference::LogProbsOutcome out;
  for (const reference::LogProbsItem& item : job.items) {
    reference::LogProbsItemResult r;
    r.num_tokens = static_cast<int32_t>(item.response.size());
    r.sum = logprob_ * static_cast<double>(item.response.size());
    if (!job.sum_only) r.logprobs.assign(item.response.size(), logprob_);
    out.results.push_back(std::move(r));
  }
  return out;
}

std::vector<double> FakeReference::temperatures() const {
  absl::MutexLock lock(&temperatures_mu_);
  return temperatures_;
}

// ---- FakeLearner

void FakeLearner::AddPublishTarget(FakeGenerator* generator) {
  absl::MutexLock lock(&mu_);
  targets_[generator->endpoint()] = generator;
}

void FakeLearner::AddPublishEndpoint(const std::string& endpoint) {
  absl::MutexLock lock(&mu_);
  endpoints_.insert(endpoint);
}

uint64_t FakeLearner::published_to(const std::string& endpoint, const std::string& model) const {
  absl::MutexLock lock(&mu_);
  auto it = published_.find({endpoint, model});
  return it == published_.end() ? 0 : it->second;
}

absl::Status FakeLearner::CheckSession(const std::string& id) const {
  if (!session_.has_value() || session_->id != id) {
    return absl::NotFoundError(absl::StrCat("no session '", id, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<learner::SessionStatus> FakeLearner::StartSession(const StartSessionCall& call,
                                                                 const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  absl::MutexLock lock(&mu_);
  // As plumb-learner: a retry with the active session's key gets that session back.
  if (session_.has_value() && !call.session_key.empty() && call.session_key == session_key_) {
    return *session_;
  }
  if (session_.has_value() && !call.replace_active) {
    return absl::FailedPreconditionError("a session is active");
  }
  session_ = learner::SessionStatus{.id = absl::StrCat("fake-", ++next_session_), .active = true};
  session_key_ = call.session_key;
  started_from_.push_back(call.options.policy_path);
  options_ = call.options;
  answered_.clear();
  return *session_;
}

absl::StatusOr<learner::TrainStats> FakeLearner::Train(const TrainCall& call,
                                                       const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckSession(call.session_id); !s.ok()) return s;
  if (call.sequence != 0) {
    auto it = answered_.find(call.sequence);
    if (it != answered_.end()) return it->second;
  }
  train_calls_.push_back(call);
  learner::TrainStats stats;
  const bool ppo = options_.algorithm == learner::Algorithm::kPpo;
  stats.optimizer_steps = ppo ? options_.ppo.epochs : 1;
  session_->policy_version += stats.optimizer_steps;
  session_->optimizer_steps += stats.optimizer_steps;
  ++session_->train_calls;
  stats.policy_version = session_->policy_version;
  if (const auto* batch = std::get_if<ExperienceBatch>(&call.batch)) {
    double reward = 0, kl = 0;
    for (const learner::Experience& x : batch->experiences) {
      reward += x.reward;
      for (size_t t = 0; t < x.logprobs.size() && t < x.ref_logprobs.size(); ++t) {
        kl += x.logprobs[t] - x.ref_logprobs[t];
      }
    }
    const double n = std::max<size_t>(1, batch->experiences.size());
    stats.reward_mean = reward / n;
    stats.kl = kl / n;
    stats.sequences = batch->experiences.size();
  }
  stats.losses["fake"] = 1.0 / static_cast<double>(session_->train_calls);
  stats.grad_norm = 1.0;
  if (call.sequence != 0) answered_[call.sequence] = stats;
  return stats;
}

absl::StatusOr<PublishOutcome> FakeLearner::PublishWeights(const PublishCall& call,
                                                           const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckSession(call.session_id); !s.ok()) return s;
  ++publish_calls_;
  PublishOutcome out;
  out.version = session_->policy_version;
  for (const PublishTarget& target : call.targets) {
    PublishTargetOutcome result;
    result.target = target;
    auto it = targets_.find(target.endpoint);
    if (it == targets_.end() && endpoints_.count(target.endpoint)) {
      published_[{target.endpoint, target.model}] = out.version;
      result.bytes = 1000;
    } else if (it == targets_.end()) {
      result.status = absl::NotFoundError(absl::StrCat(target.endpoint, ": no such target"));
    } else {
      // A lost replica cannot take weights either.
      absl::Status reachable = it->second->GetStatus(CallOptions{}).status();
      if (reachable.ok()) {
        result.previous_version = it->second->policy_version();
        if (result.previous_version > out.version && !call.allow_downgrade) {
          result.status = absl::FailedPreconditionError("would downgrade");
        } else {
          it->second->SetPolicyVersion(out.version);
          result.bytes = 1000;
        }
      } else {
        result.status = reachable;
      }
    }
    if (!result.status.ok()) ++out.failed_targets;
    out.bytes += result.bytes;
    out.results.push_back(std::move(result));
  }
  return out;
}

absl::StatusOr<learner::CheckpointInfo> FakeLearner::SaveCheckpoint(const std::string& session_id,
                                                                    const std::string& path,
                                                                    bool /*weights_only*/,
                                                                    bool overwrite,
                                                                    const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckSession(session_id); !s.ok()) return s;
  if (checkpoints_.count(path) && !overwrite) {
    return absl::AlreadyExistsError(absl::StrCat(path, " exists"));
  }
  checkpoints_[path] = session_->policy_version;
  return learner::CheckpointInfo{absl::StrCat("/fake/", path), session_->policy_version};
}

absl::StatusOr<learner::CheckpointInfo> FakeLearner::LoadCheckpoint(const std::string& session_id,
                                                                    const std::string& path,
                                                                    bool /*weights_only*/,
                                                                    const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckSession(session_id); !s.ok()) return s;
  auto it = checkpoints_.find(path);
  if (it == checkpoints_.end()) return absl::NotFoundError(absl::StrCat(path, ": no checkpoint"));
  session_->policy_version = it->second;
  return learner::CheckpointInfo{absl::StrCat("/fake/", path), it->second};
}

absl::StatusOr<uint64_t> FakeLearner::EndSession(const std::string& session_id,
                                                 const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckSession(session_id); !s.ok()) return s;
  const uint64_t version = session_->policy_version;
  session_.reset();
  return version;
}

absl::StatusOr<LearnerStatus> FakeLearner::GetStatus(const CallOptions& options) {
  if (absl::Status entered = Enter(options); !entered.ok()) return entered;
  absl::MutexLock lock(&mu_);
  LearnerStatus status;
  status.session = session_;
  return status;
}

std::vector<TrainCall> FakeLearner::train_calls() const {
  absl::MutexLock lock(&mu_);
  return train_calls_;
}

int FakeLearner::publish_calls() const {
  absl::MutexLock lock(&mu_);
  return publish_calls_;
}

std::vector<std::string> FakeLearner::sessions_started_from() const {
  absl::MutexLock lock(&mu_);
  return started_from_;
}

void FakeLearner::ForgetSession() {
  absl::MutexLock lock(&mu_);
  session_.reset();
  session_key_.clear();
  answered_.clear();
}

}  // namespace plumb::clients
