// LearnerClient over plumb.v1.Learner.
#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clients/grpc_call.h"
#include "common/clients/grpc_clients.h"
#include "common/clients/learner_config_proto.h"
#include "common/status/status_macros.h"
#include "plumb/v1/learner.grpc.pb.h"

namespace plumb::clients {
namespace {

template <typename Ids>
void Put(const std::vector<int64_t>& ids, Ids* out) {
  out->Reserve(static_cast<int>(ids.size()));
  for (int64_t id : ids) out->Add(static_cast<int32_t>(id));
}

void ToProto(const ExperienceBatch& batch, v1::ExperienceBatch* out) {
  if (batch.temperature != 1.0) out->set_temperature(static_cast<float>(batch.temperature));
  for (const learner::Experience& x : batch.experiences) {
    v1::Experience* e = out->add_experiences();
    v1::Rollout* r = e->mutable_rollout();
    // The learner groups by "<request id>/<prompt id>"; splitting at the first '/' rebuilds
    // the same string there.
    const size_t slash = x.group.find('/');
    r->set_request_id(slash == std::string::npos ? x.group : x.group.substr(0, slash));
    r->set_prompt_id(slash == std::string::npos ? "" : x.group.substr(slash + 1));
    Put(x.prompt, r->mutable_prompt_token_ids());
    Put(x.response, r->mutable_response_token_ids());
    r->mutable_logprobs()->Add(x.logprobs.begin(), x.logprobs.end());
    r->set_finish_reason(x.stopped ? v1::FINISH_REASON_STOP : v1::FINISH_REASON_LENGTH);
    r->set_policy_version(x.policy_version);
    e->set_reward(static_cast<float>(x.reward));
    e->mutable_reference_logprobs()->Add(x.ref_logprobs.begin(), x.ref_logprobs.end());
  }
}

void ToProto(const std::vector<learner::PreferenceExample>& batch, v1::PreferenceBatch* out) {
  for (const learner::PreferenceExample& x : batch) {
    v1::PreferencePair* p = out->add_pairs();
    p->set_id(x.id);
    Put(x.prompt, p->mutable_prompt_token_ids());
    Put(x.chosen, p->mutable_chosen_token_ids());
    Put(x.rejected, p->mutable_rejected_token_ids());
    if (x.margin) p->set_margin(static_cast<float>(*x.margin));
    if (x.probability) p->set_preference_probability(static_cast<float>(*x.probability));
    if (x.ref_chosen) p->set_reference_chosen_logprob(*x.ref_chosen);
    if (x.ref_rejected) p->set_reference_rejected_logprob(*x.ref_rejected);
  }
}

void ToProto(const std::vector<learner::SftExample>& batch, v1::SftBatch* out) {
  for (const learner::SftExample& x : batch) {
    v1::SftExample* e = out->add_examples();
    e->set_id(x.id);
    Put(x.prompt, e->mutable_prompt_token_ids());
    Put(x.completion, e->mutable_completion_token_ids());
    if (x.weight != 1.0) e->set_weight(static_cast<float>(x.weight));
  }
}

void ToProto(const std::vector<learner::UnpairedExample>& batch, v1::UnpairedBatch* out) {
  for (const learner::UnpairedExample& x : batch) {
    v1::UnpairedExample* e = out->add_examples();
    e->set_id(x.id);
    Put(x.prompt, e->mutable_prompt_token_ids());
    Put(x.completion, e->mutable_completion_token_ids());
    e->set_desirable(x.desirable);
    if (x.ref_logprob) e->set_reference_logprob(*x.ref_logprob);
    if (x.ref_kl_logprob) e->set_reference_kl_logprob(*x.ref_kl_logprob);
  }
}

void ToProto(const std::vector<learner::RankedGroup>& batch, v1::RankedBatch* out) {
  for (const learner::RankedGroup& x : batch) {
    v1::RankedGroup* g = out->add_groups();
    g->set_id(x.id);
    Put(x.prompt, g->mutable_prompt_token_ids());
    for (size_t i = 0; i < x.responses.size(); ++i) {
      v1::RankedResponse* r = g->add_responses();
      Put(x.responses[i], r->mutable_token_ids());
      r->set_rank(i < x.ranks.size() ? x.ranks[i] : 0);
    }
  }
}

learner::TrainStats FromProto(const v1::TrainStats& p) {
  learner::TrainStats s;
  s.losses.insert(p.losses().begin(), p.losses().end());
  if (p.has_kl()) s.kl = p.kl();
  if (p.has_clip_fraction()) s.clip_fraction = p.clip_fraction();
  if (p.has_entropy()) s.entropy = p.entropy();
  if (p.has_value_error()) s.value_error = p.value_error();
  if (p.has_reward_mean()) s.reward_mean = p.reward_mean();
  if (p.has_reward_std()) s.reward_std = p.reward_std();
  if (p.has_kl_coef()) s.kl_coef = p.kl_coef();
  s.grad_norm = p.grad_norm();
  s.learning_rate = p.learning_rate();
  s.seconds = p.seconds();
  s.tokens = p.tokens();
  s.sequences = p.sequences();
  s.policy_version = p.policy_version();
  s.optimizer_steps = p.optimizer_steps();
  s.metrics.insert(p.metrics().begin(), p.metrics().end());
  return s;
}

absl::StatusOr<v1::DType> DTypeOf(const std::string& dtype) {
  if (dtype == "float32") return v1::DTYPE_FLOAT32;
  if (dtype == "bfloat16") return v1::DTYPE_BFLOAT16;
  if (dtype == "float16") return v1::DTYPE_FLOAT16;
  return absl::InvalidArgumentError(
      absl::StrCat("call.dtype: ", dtype, " is not float32, bfloat16 or float16"));
}

class GrpcLearnerClient final : public LearnerClient, private internal::GrpcStub<v1::Learner> {
 public:
  using GrpcStub::GrpcStub;

  const std::string& endpoint() const override { return options_.target; }

  absl::StatusOr<learner::SessionStatus> StartSession(const StartSessionCall& call,
                                                      const CallOptions& options) override {
    v1::StartSessionRequest request;
    ASSIGN_OR_RETURN(*request.mutable_config(), TrainingConfigFromOptions(call.options));
    request.set_policy_checkpoint(call.options.policy_path);
    request.set_value_checkpoint(call.options.value_path);
    request.set_session_key(call.session_key);
    request.set_replace_active(call.replace_active);
    v1::StartSessionResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->StartSession(context, request, &response);
    }));
    learner::SessionStatus status;
    status.id = response.session_id();
    status.active = true;
    status.policy_version = response.policy_version();
    return status;
  }

  absl::StatusOr<learner::TrainStats> Train(const TrainCall& call,
                                            const CallOptions& options) override {
    v1::TrainRequest request;
    request.set_session_id(call.session_id);
    request.set_sequence(call.sequence);
    std::visit(
        [&](const auto& batch) {
          using Batch = std::decay_t<decltype(batch)>;
          if constexpr (std::is_same_v<Batch, ExperienceBatch>) {
            ToProto(batch, request.mutable_experience());
          } else if constexpr (std::is_same_v<Batch, std::vector<learner::PreferenceExample>>) {
            ToProto(batch, request.mutable_preference());
          } else if constexpr (std::is_same_v<Batch, std::vector<learner::SftExample>>) {
            ToProto(batch, request.mutable_sft());
          } else if constexpr (std::is_same_v<Batch, std::vector<learner::UnpairedExample>>) {
            ToProto(batch, request.mutable_unpaired());
          } else {
            ToProto(batch, request.mutable_ranked());
          }
        },
        call.batch);
    v1::TrainResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->Train(context, request, &response);
    }));
    return FromProto(response.stats());
  }

  absl::StatusOr<PublishOutcome> PublishWeights(const PublishCall& call,
                                                const CallOptions& options) override {
    v1::PublishWeightsRequest request;
    request.set_session_id(call.session_id);
    for (const PublishTarget& t : call.targets) {
      v1::PublishTarget* target = request.add_targets();
      target->set_endpoint(t.endpoint);
      target->set_model(t.model);
    }
    ASSIGN_OR_RETURN(const v1::DType dtype, DTypeOf(call.dtype));
    request.set_dtype(dtype);
    request.set_allow_downgrade(call.allow_downgrade);
    if (call.target_timeout.has_value()) {
      const int64_t nanos = absl::ToInt64Nanoseconds(*call.target_timeout);
      request.mutable_target_timeout()->set_seconds(nanos / 1000000000);
      request.mutable_target_timeout()->set_nanos(static_cast<int32_t>(nanos % 1000000000));
    }
    v1::PublishWeightsResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->PublishWeights(context, request, &response);
    }));
    PublishOutcome out;
    out.version = response.version();
    out.bytes = response.bytes();
    out.failed_targets = response.failed_targets();
    out.seconds = response.seconds();
    for (const v1::PublishTargetResult& r : response.results()) {
      PublishTargetOutcome result;
      result.target = {r.target().endpoint(), r.target().model()};
      result.status = absl::Status(static_cast<absl::StatusCode>(r.code()), r.error_message());
      result.bytes = r.bytes();
      result.previous_version = r.previous_version();
      result.seconds = r.seconds();
      out.results.push_back(std::move(result));
    }
    return out;
  }

  absl::StatusOr<learner::CheckpointInfo> SaveCheckpoint(const std::string& session_id,
                                                         const std::string& path, bool weights_only,
                                                         bool overwrite,
                                                         const CallOptions& options) override {
    v1::SaveCheckpointRequest request;
    request.set_session_id(session_id);
    request.set_path(path);
    request.set_weights_only(weights_only);
    request.set_overwrite(overwrite);
    v1::SaveCheckpointResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->SaveCheckpoint(context, request, &response);
    }));
    return learner::CheckpointInfo{response.path(), response.policy_version()};
  }

  absl::StatusOr<learner::CheckpointInfo> LoadCheckpoint(const std::string& session_id,
                                                         const std::string& path, bool weights_only,
                                                         const CallOptions& options) override {
    v1::LoadCheckpointRequest request;
    request.set_session_id(session_id);
    request.set_path(path);
    request.set_weights_only(weights_only);
    v1::LoadCheckpointResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->LoadCheckpoint(context, request, &response);
    }));
    return learner::CheckpointInfo{response.path(), response.policy_version()};
  }

  absl::StatusOr<uint64_t> EndSession(const std::string& session_id,
                                      const CallOptions& options) override {
    v1::EndSessionRequest request;
    request.set_session_id(session_id);
    v1::EndSessionResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->EndSession(context, request, &response);
    }));
    return response.policy_version();
  }

  absl::StatusOr<LearnerStatus> GetStatus(const CallOptions& options) override {
    v1::LearnerGetInfoResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->GetInfo(context, v1::LearnerGetInfoRequest(), &response);
    }));
    LearnerStatus status;
    status.world_size = response.world_size() == 0 ? 1 : response.world_size();
    if (response.has_session()) {
      const v1::SessionInfo& s = response.session();
      learner::SessionStatus session;
      session.id = s.session_id();
      session.active =
          s.state() == v1::SESSION_STATE_READY || s.state() == v1::SESSION_STATE_TRAINING;
      session.policy_version = s.policy_version();
      session.optimizer_steps = s.optimizer_steps();
      session.train_calls = s.train_calls();
      session.error = s.error();
      status.session = std::move(session);
    }
    return status;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<LearnerClient>> NewGrpcLearnerClient(
    const rpc::ChannelOptions& options) {
  return internal::WithChannel<GrpcLearnerClient>(options);
}

}  // namespace plumb::clients
