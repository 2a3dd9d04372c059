#include "services/plumb-learner/learner_proto_conversion.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/api/learner_limits.h"
#include "common/rpc/message_checks.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"

namespace plumb::learner {
namespace {

// Shapes: repeated fields and strings within their documented bounds.

absl::Status TooMany(const std::string& path, size_t size, size_t limit, const char* what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", size, " ", what, "; at most ", limit));
}

absl::Status CheckCount(const std::string& path, int size, int64_t limit) {
  if (size <= limit) return absl::OkStatus();
  return TooMany(path, static_cast<size_t>(size), static_cast<size_t>(limit), "items");
}

absl::Status CheckTokens(const std::string& path, int size) {
  if (size <= kMaxTokensPerSequence) return absl::OkStatus();
  return TooMany(path, static_cast<size_t>(size), kMaxTokensPerSequence, "values");
}

absl::Status CheckString(const std::string& path, const std::string& value, size_t limit) {
  if (value.size() <= limit) return absl::OkStatus();
  return TooMany(path, value.size(), limit, "bytes");
}

absl::Status CheckShape(const v1::ExperienceBatch& b, const std::string& path) {
  RETURN_IF_ERROR(CheckCount(path + ".experiences", b.experiences_size(), kMaxBatchItems));
  for (int i = 0; i < b.experiences_size(); ++i) {
    const v1::Experience& e = b.experiences(i);
    const std::string at = absl::StrCat(path, ".experiences[", i, "]");
    const v1::Rollout& r = e.rollout();
    RETURN_IF_ERROR(CheckString(at + ".rollout.request_id", r.request_id(), kMaxIdBytes));
    RETURN_IF_ERROR(CheckString(at + ".rollout.prompt_id", r.prompt_id(), kMaxIdBytes));
    RETURN_IF_ERROR(CheckTokens(at + ".rollout.prompt_token_ids", r.prompt_token_ids_size()));
    RETURN_IF_ERROR(CheckTokens(at + ".rollout.response_token_ids", r.response_token_ids_size()));
    RETURN_IF_ERROR(CheckTokens(at + ".rollout.logprobs", r.logprobs_size()));
    RETURN_IF_ERROR(CheckTokens(at + ".reference_logprobs", e.reference_logprobs_size()));
    RETURN_IF_ERROR(CheckCount(at + ".scores", e.scores_size(), kMaxRankedResponses));
  }
  return absl::OkStatus();
}

absl::Status CheckShape(const v1::PreferenceBatch& b, const std::string& path) {
  RETURN_IF_ERROR(CheckCount(path + ".pairs", b.pairs_size(), kMaxBatchItems));
  for (int i = 0; i < b.pairs_size(); ++i) {
    const v1::PreferencePair& p = b.pairs(i);
    const std::string at = absl::StrCat(path, ".pairs[", i, "]");
    RETURN_IF_ERROR(CheckString(at + ".id", p.id(), kMaxIdBytes));
    RETURN_IF_ERROR(CheckTokens(at + ".prompt_token_ids", p.prompt_token_ids_size()));
    RETURN_IF_ERROR(CheckTokens(at + ".chosen_token_ids", p.chosen_token_ids_size()));
    RETURN_IF_ERROR(CheckTokens(at + ".rejected_token_ids", p.rejected_token_ids_size()));
  }
  return absl::OkStatus();
}

absl::Status CheckShape(const v1::UnpairedBatch& b, const std::string& path) {
  RETURN_IF_ERROR(CheckCount(path + ".examples", b.examples_size(), kMaxBatchItems));
  for (int i = 0; i < b.examples_size(); ++i) {
    const v1::UnpairedExample& e = b.examples(i);
    const std::string at = absl::StrCat(path, ".examples[", i, "]");
    RETURN_IF_ERROR(CheckString(at + ".id", e.id(), kMaxIdBytes));
    RETURN_IF_ERROR(CheckTokens(at + ".prompt_token_ids", e.prompt_token_ids_size()));
    RETURN_IF_ERROR(CheckTokens(at + ".completion_token_ids", e.completion_token_ids_size()));
  }
  return absl::OkStatus();
}

absl::Status CheckShape(const v1::RankedBatch& b, const std::string& path) {
  RETURN_IF_ERROR(CheckCount(path + ".groups", b.groups_size(), kMaxBatchItems));
  for (int i = 0; i < b.groups_size(); ++i) {
    const v1::RankedGroup& g = b.groups(i);
    const std::string at = absl::StrCat(path, ".groups[", i, "]");
    RETURN_IF_ERROR(CheckString(at + ".id", g.id(), kMaxIdBytes));
    RETURN_IF_ERROR(CheckTokens(at + ".prompt_token_ids", g.prompt_token_ids_size()));
    RETURN_IF_ERROR(CheckCount(at + ".responses", g.responses_size(), kMaxRankedResponses));
    for (int r = 0; r < g.responses_size(); ++r) {
      RETURN_IF_ERROR(CheckTokens(absl::StrCat(at, ".responses[", r, "].token_ids"),
                                  g.responses(r).token_ids_size()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckShape(const v1::SftBatch& b, const std::string& path) {
  RETURN_IF_ERROR(CheckCount(path + ".examples", b.examples_size(), kMaxBatchItems));
  for (int i = 0; i < b.examples_size(); ++i) {
    const v1::SftExample& e = b.examples(i);
    const std::string at = absl::StrCat(path, ".examples[", i, "]");
    RETURN_IF_ERROR(CheckString(at + ".id", e.id(), kMaxIdBytes));
    RETURN_IF_ERROR(CheckTokens(at + ".prompt_token_ids", e.prompt_token_ids_size()));
    RETURN_IF_ERROR(CheckTokens(at + ".completion_token_ids", e.completion_token_ids_size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckStartSessionRequest(const v1::StartSessionRequest& request) {
  RETURN_IF_ERROR(rpc::CheckMessageValues(request, "request"));
  RETURN_IF_ERROR(CheckString("request.session_key", request.session_key(), kMaxSessionKeyBytes));
  RETURN_IF_ERROR(
      CheckString("request.policy_checkpoint", request.policy_checkpoint(), kMaxPathBytes));
  RETURN_IF_ERROR(
      CheckString("request.value_checkpoint", request.value_checkpoint(), kMaxPathBytes));
  RETURN_IF_ERROR(rpc::CheckStringMap(request.labels(), "request.labels", kMaxLabels,
                                      kMaxLabelBytes, kMaxLabelBytes));
  RETURN_IF_ERROR(CheckCount("request.config.lora.target_modules",
                             request.config().lora().target_modules_size(), kMaxLoraTargets));
  if (request.load_optimizer_state()) {
    return absl::UnimplementedError(
        "request.load_optimizer_state: StartSession loads weights only; call LoadCheckpoint on "
        "the new session to restore the optimizer state, step and version");
  }
  return absl::OkStatus();
}

absl::Status CheckTrainRequest(const v1::TrainRequest& request) {
  RETURN_IF_ERROR(rpc::CheckMessageValues(request, "request"));
  RETURN_IF_ERROR(CheckString("request.session_id", request.session_id(), kMaxSessionIdBytes));
  switch (request.batch_case()) {
    case v1::TrainRequest::kExperience:
      return CheckShape(request.experience(), "request.experience");
    case v1::TrainRequest::kPreference:
      return CheckShape(request.preference(), "request.preference");
    case v1::TrainRequest::kUnpaired:
      return CheckShape(request.unpaired(), "request.unpaired");
    case v1::TrainRequest::kRanked:
      return CheckShape(request.ranked(), "request.ranked");
    case v1::TrainRequest::kSft:
      return CheckShape(request.sft(), "request.sft");
    default:
      return absl::InvalidArgumentError(
          "request: no batch (set one of experience, preference, "
          "unpaired, ranked, sft)");
  }
}

absl::Status CheckSessionRequest(const google::protobuf::Message& request,
                                 const std::string& session_id) {
  RETURN_IF_ERROR(rpc::CheckMessageValues(request, "request"));
  return CheckString("request.session_id", session_id, kMaxSessionIdBytes);
}

double TemperatureOf(const v1::ExperienceBatch& batch) {
  return batch.has_temperature() && batch.temperature() != 0 ? batch.temperature() : 1.0;
}

std::vector<Experience> ToExperiences(const v1::ExperienceBatch& batch) {
  std::vector<Experience> out;
  out.reserve(batch.experiences_size());
  for (const v1::Experience& e : batch.experiences()) {
    const v1::Rollout& r = e.rollout();
    Experience x;
    x.group = absl::StrCat(r.request_id(), "/", r.prompt_id());
    x.prompt.assign(r.prompt_token_ids().begin(), r.prompt_token_ids().end());
    x.response.assign(r.response_token_ids().begin(), r.response_token_ids().end());
    x.logprobs.assign(r.logprobs().begin(), r.logprobs().end());
    x.ref_logprobs.assign(e.reference_logprobs().begin(), e.reference_logprobs().end());
    x.reward = e.reward();
    x.stopped = r.finish_reason() == v1::FINISH_REASON_STOP;
    x.policy_version = r.policy_version();
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<PreferenceExample> ToPreferences(const v1::PreferenceBatch& batch) {
  std::vector<PreferenceExample> out;
  out.reserve(batch.pairs_size());
  for (const v1::PreferencePair& p : batch.pairs()) {
    PreferenceExample x;
    x.id = p.id();
    x.prompt.assign(p.prompt_token_ids().begin(), p.prompt_token_ids().end());
    x.chosen.assign(p.chosen_token_ids().begin(), p.chosen_token_ids().end());
    x.rejected.assign(p.rejected_token_ids().begin(), p.rejected_token_ids().end());
    if (p.has_reference_chosen_logprob()) x.ref_chosen = p.reference_chosen_logprob();
    if (p.has_reference_rejected_logprob()) x.ref_rejected = p.reference_rejected_logprob();
    if (p.has_margin()) x.margin = p.margin();
    if (p.has_preference_probability()) x.probability = p.preference_probability();
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<SftExample> ToSftExamples(const v1::SftBatch& batch) {
  std::vector<SftExample> out;
  out.reserve(batch.examples_size());
  for (const v1::SftExample& e : batch.examples()) {
    out.push_back({e.id(),
                   {e.prompt_token_ids().begin(), e.prompt_token_ids().end()},
                   {e.completion_token_ids().begin(), e.completion_token_ids().end()},
                   e.has_weight() ? e.weight() : 1.0});
  }
  return out;
}

std::vector<UnpairedExample> ToUnpaired(const v1::UnpairedBatch& batch) {
  std::vector<UnpairedExample> out;
  out.reserve(batch.examples_size());
  for (const v1::UnpairedExample& e : batch.examples()) {
    UnpairedExample x;
    x.id = e.id();
    x.prompt.assign(e.prompt_token_ids().begin(), e.prompt_token_ids().end());
    x.completion.assign(e.completion_token_ids().begin(), e.completion_token_ids().end());
    x.desirable = e.desirable();
    if (e.has_reference_logprob()) x.ref_logprob = e.reference_logprob();
    if (e.has_reference_kl_logprob()) x.ref_kl_logprob = e.reference_kl_logprob();
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<RankedGroup> ToRankedGroups(const v1::RankedBatch& batch) {
  std::vector<RankedGroup> out;
  out.reserve(batch.groups_size());
  for (const v1::RankedGroup& g : batch.groups()) {
    RankedGroup x;
    x.id = g.id();
    x.prompt.assign(g.prompt_token_ids().begin(), g.prompt_token_ids().end());
    for (const v1::RankedResponse& r : g.responses()) {
      x.responses.emplace_back(r.token_ids().begin(), r.token_ids().end());
      x.ranks.push_back(r.rank());
    }
    out.push_back(std::move(x));
  }
  return out;
}

absl::Status CheckPublishTargets(const v1::PublishWeightsRequest& request,
                                 const std::vector<std::string>& allowed) {
  if (request.targets().empty() || request.targets_size() > kMaxPublishTargets) {
    return (absl::InvalidArgumentError(
        absl::StrCat("request.targets: PublishWeights needs 1..", kMaxPublishTargets, " targets")));
  }
  std::set<std::pair<std::string, std::string>> seen;
  for (int i = 0; i < request.targets_size(); ++i) {
    const v1::PublishTarget& t = request.targets(i);
    const std::string at = absl::StrCat("request.targets[", i, "]");
    if (t.endpoint().empty()) return (absl::InvalidArgumentError(at + ".endpoint: empty"));
    if (t.model().size() > kMaxIdBytes) {
      return (absl::InvalidArgumentError(
          absl::StrCat(at, ".model: ", t.model().size(), " bytes; at most ", kMaxIdBytes)));
    }
    // Weights go only where the operator allowed (else any endpoint, unix sockets included,
    // received the policy, and the timing of the refusals scanned ports).
    if (std::find(allowed.begin(), allowed.end(), t.endpoint()) == allowed.end()) {
      return (absl::PermissionDeniedError(absl::StrCat(
          at, ".endpoint: ", Echo(t.endpoint()),
          " is not an allowed publish target; add it to learner.publish_targets in the "
          "learner's YAML")));
    }
    if (!seen.insert({t.endpoint(), t.model()}).second) {
      return (absl::InvalidArgumentError(
          absl::StrCat(at, ": ", Echo(t.endpoint()), " ", Echo(t.model()), " is listed twice")));
    }
  }
  const google::protobuf::Duration& limit = request.target_timeout();
  if (limit.seconds() < 0 || limit.nanos() < 0 || limit.seconds() > 86400) {
    return (absl::InvalidArgumentError("request.target_timeout: must be in [0, 86400] s"));
  }
  return absl::OkStatus();
}

void StatsToProto(const TrainStats& stats, uint64_t sequence, v1::TrainStats* out) {
  for (const auto& [term, value] : stats.losses) out->mutable_losses()->insert({term, value});
  if (stats.kl) out->set_kl(*stats.kl);
  if (stats.clip_fraction) out->set_clip_fraction(*stats.clip_fraction);
  if (stats.entropy) out->set_entropy(*stats.entropy);
  if (stats.value_error) out->set_value_error(*stats.value_error);
  if (stats.reward_mean) out->set_reward_mean(*stats.reward_mean);
  if (stats.reward_std) out->set_reward_std(*stats.reward_std);
  if (stats.kl_coef) out->set_kl_coef(*stats.kl_coef);
  out->set_grad_norm(stats.grad_norm);
  out->set_learning_rate(stats.learning_rate);
  out->set_tokens(stats.tokens);
  out->set_sequences(stats.sequences);
  out->set_seconds(stats.seconds);
  out->set_policy_version(stats.policy_version);
  out->set_optimizer_steps(stats.optimizer_steps);
  for (const auto& [name, value] : stats.metrics) out->mutable_metrics()->insert({name, value});
  out->set_sequence(sequence);
}

}  // namespace plumb::learner
