#include "bench/in_process_clients.h"

#include <torch/torch.h>

#include <chrono>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::bench {

absl::Status InProcessGenerator::Generate(
    const generator::GenerateJob& job, const clients::CallOptions& options,
    const std::function<bool(generator::RolloutResult)>& on_rollout) {
  return core_->Generate(
      job, [&](const generator::RolloutResult& r) { return on_rollout(r); },
      [&] { return options.cancelled(); });
}

absl::StatusOr<clients::GeneratorStatus> InProcessGenerator::GetStatus(
    const clients::CallOptions& /*options*/) {
  clients::GeneratorStatus status;
  status.policy_version = core_->model().Current()->version;
  status.load = core_->load();
  status.max_sequences_per_request = core_->limits().max_sequences_per_request;
  return status;
}

absl::StatusOr<learner::SessionStatus> InProcessLearner::StartSession(
    const clients::StartSessionCall& call, const clients::CallOptions& /*options*/) {
  RETURN_IF_ERROR(call.options.Validate());
  bool created = false;
  return core_->StartSession(call.options, call.session_key, call.replace_active, &created);
}

absl::StatusOr<learner::TrainStats> InProcessLearner::Train(const clients::TrainCall& call,
                                                            const clients::CallOptions& options) {
  const learner::CancelPredicate cancelled = [&] { return options.cancelled(); };
  return std::visit(
      [&](const auto& batch) -> absl::StatusOr<learner::TrainStats> {
        using Batch = std::decay_t<decltype(batch)>;
        if constexpr (std::is_same_v<Batch, clients::ExperienceBatch>) {
          return core_->TrainExperience(call.session_id, batch.experiences, batch.temperature,
                                        cancelled);
        } else if constexpr (std::is_same_v<Batch, std::vector<learner::PreferenceExample>>) {
          return core_->TrainPreference(call.session_id, batch, cancelled);
        } else if constexpr (std::is_same_v<Batch, std::vector<learner::SftExample>>) {
          return core_->TrainSft(call.session_id, batch, cancelled);
        } else if constexpr (std::is_same_v<Batch, std::vector<learner::UnpairedExample>>) {
          return core_->TrainUnpaired(call.session_id, batch, cancelled);
        } else {
          return core_->TrainRanked(call.session_id, batch, cancelled);
        }
      },
      call.batch);
}

absl::StatusOr<clients::PublishOutcome> InProcessLearner::PublishWeights(
    const clients::PublishCall& call, const clients::CallOptions& /*options*/) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(learner::PolicyWeights policy, core_->Weights(call.session_id, torch::kFloat));
  clients::PublishOutcome out;
  out.version = policy.version;
  weights::ReceivedWeights received;
  received.version = policy.version;
  received.source = "learner:" + call.session_id;
  received.tensors = std::move(policy.tensors);
  for (const clients::PublishTarget& target : call.targets) {
    clients::PublishTargetOutcome result;
    result.target = target;
    auto it = targets_.find(target.endpoint);
    if (it == targets_.end()) {
      result.status = absl::NotFoundError(absl::StrCat(target.endpoint, ": no such model"));
    } else {
      absl::StatusOr<uint64_t> previous = it->second->Apply(received);
      result.status = previous.status();
      if (previous.ok()) result.previous_version = *previous;
    }
    if (!result.status.ok()) ++out.failed_targets;
    out.results.push_back(std::move(result));
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

absl::StatusOr<clients::LearnerStatus> InProcessLearner::GetStatus(
    const clients::CallOptions& /*options*/) {
  clients::LearnerStatus status;
  status.world_size = core_->world_size();
  status.session = core_->Status();
  return status;
}

}  // namespace plumb::bench
