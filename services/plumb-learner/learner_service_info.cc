// LearnerService's metrics and its reports: the constructor that registers them, the stats a
// Train call sets, and GetInfo (server, session, model). The handlers are learner_service.cc.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>

#include "common/clients/learner_config_proto.h"
#include "common/service/server_info.h"
#include "common/status/status_macros.h"
#include "common/weights/model_service_support.h"
#include "services/plumb-learner/learner_proto_conversion.h"
#include "services/plumb-learner/learner_service.h"

namespace plumb::learner {

absl::StatusOr<std::unique_ptr<LearnerService>> LearnerService::Create(LearnerCore* core,
                                                                       metrics::Registry* registry,
                                                                       PublishOptions publish,
                                                                       Replicator* replicator) {
  std::unique_ptr<LearnerService> service(new LearnerService(core, std::move(publish), replicator));
  RETURN_IF_ERROR(service->RegisterMetrics(registry));
  return service;
}

LearnerService::LearnerService(LearnerCore* core, PublishOptions publish, Replicator* replicator)
    : core_(core),
      replicator_(replicator),
      publish_(std::move(publish)),
      ledger_(core->world_size()),
      publisher_(publish_.client) {}

absl::Status LearnerService::RegisterMetrics(metrics::Registry* registry) {
  ASSIGN_OR_RETURN(requests_,
                   registry->AddCounter("plumb_learner_requests_total",
                                        "Learner RPCs by result code.", {"rpc", "code"}));
  ASSIGN_OR_RETURN(metrics::HistogramFamily * train_seconds,
                   registry->AddHistogram("plumb_learner_train_seconds", "Train call duration."));
  step_seconds_ = &train_seconds->WithLabels({});
  ASSIGN_OR_RETURN(losses_, registry->AddGauge("plumb_learner_loss",
                                               "Loss terms of the last Train call.", {"term"}));
  auto gauge = [&](const char* name, const char* help, metrics::Gauge** out) -> absl::Status {
    ASSIGN_OR_RETURN(metrics::GaugeFamily * family, registry->AddGauge(name, help));
    *out = &family->WithLabels({});
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(
      gauge("plumb_learner_kl", "Mean sequence KL to the reference in the last PPO batch.", &kl_));
  RETURN_IF_ERROR(
      gauge("plumb_learner_reward_mean", "Mean reward of the last experience batch.", &reward_));
  RETURN_IF_ERROR(
      gauge("plumb_learner_grad_norm", "Gradient norm before clipping, last step.", &grad_norm_));
  RETURN_IF_ERROR(
      gauge("plumb_learner_policy_version", "Policy version of the active session.", &version_));
  ASSIGN_OR_RETURN(metrics::HistogramFamily * sync_seconds,
                   registry->AddHistogram("plumb_learner_weight_sync_seconds",
                                          "Seconds to publish weights to one target."));
  sync_seconds_ = &sync_seconds->WithLabels({});
  ASSIGN_OR_RETURN(metrics::CounterFamily * sync_bytes,
                   registry->AddCounter("plumb_learner_weight_sync_bytes_total",
                                        "Weight bytes published to targets."));
  sync_bytes_ = &sync_bytes->WithLabels({});
  return absl::OkStatus();
}

void LearnerService::FillModel(v1::ModelInfo* info, v1::ModelInfo* critic) {
  const std::optional<ModelDescription> model = core_->Model();
  const std::optional<SessionStatus> status = core_->Status();
  if (!model.has_value() || !status.has_value()) return;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
  {
    absl::MutexLock lock(&mu_);
    tokenizer = tokenizer_;
  }
  weights::FillModelInfo({.config = &model->config,
                          .dtype = model->dtype,
                          .device = model->device,
                          .version = status->policy_version,
                          .weights_source = model->source,
                          .loaded = model->loaded,
                          .tokenizer = tokenizer.get()},
                         info);
  if (critic != nullptr && model->critic.has_value()) {
    weights::FillModelInfo({.config = &*model->critic,
                            .dtype = model->dtype,
                            .device = model->device,
                            .version = status->policy_version,
                            .weights_source = model->critic_source,
                            .loaded = model->loaded,
                            .tokenizer = tokenizer.get()},
                           critic);
  }
}

void LearnerService::RecordStats(const TrainStats& stats) {
  for (const auto& [term, value] : stats.losses) losses_->WithLabels({term}).Set(value);
  if (stats.kl.has_value()) kl_->Set(*stats.kl);
  if (stats.reward_mean.has_value()) reward_->Set(*stats.reward_mean);
  grad_norm_->Set(stats.grad_norm);
  version_->Set(static_cast<double>(stats.policy_version));
  step_seconds_->Observe(stats.seconds);
}

grpc::Status LearnerService::GetInfo(grpc::ServerContext* /*context*/,
                                     const v1::LearnerGetInfoRequest* /*request*/,
                                     v1::LearnerGetInfoResponse* response) {
  service::FillServerInfo(response->mutable_server());
  if (std::optional<SessionStatus> status = core_->Status()) {
    v1::SessionInfo* session = response->mutable_session();
    session->set_session_id(status->id);
    session->set_state(ledger_.training() ? v1::SESSION_STATE_TRAINING : v1::SESSION_STATE_READY);
    session->set_policy_version(status->policy_version);
    session->set_optimizer_steps(status->optimizer_steps);
    session->set_train_calls(status->train_calls);
    absl::MutexLock lock(&mu_);
    *session->mutable_config() = config_;
    session->mutable_labels()->insert(labels_.begin(), labels_.end());
    *session->mutable_start_time() = weights::ToProtoTime(session_started_);
    session->set_last_sequence(ledger_.last_sequence());
    if (const std::string failure = ledger_.failure(); !failure.empty()) {
      session->set_state(v1::SESSION_STATE_FAILED);
      session->set_error(failure);
    }
  }
  FillModel(response->mutable_model(), response->mutable_critic());
  if (response->critic().architecture().empty()) response->clear_critic();
  response->set_world_size(core_->world_size());
  response->set_distributed_backend("gloo");
  for (const auto& algorithm : clients::ProtoAlgorithms()) {
    response->add_supported_algorithms(algorithm.first);
  }
  return grpc::Status::OK;
}

}  // namespace plumb::learner
