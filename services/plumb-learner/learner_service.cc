#include "services/plumb-learner/learner_service.h"

#include <grpcpp/grpcpp.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/api/learner_limits.h"
#include "common/clients/learner_config_proto.h"
#include "common/rpc/grpc_status.h"
#include "common/service/server_info.h"
#include "common/service/service_host.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/weights/model_service_support.h"
#include "services/plumb-learner/learner_proto_conversion.h"

namespace plumb::learner {

using Clock = std::chrono::steady_clock;

absl::Status LearnerService::Replicated(Command command, const std::string& id,
                                        const google::protobuf::Message& request,
                                        const std::function<void()>& local) {
  if (replicator_ == nullptr) {
    local();
    return absl::OkStatus();
  }
  return replicator_->Run(command, id, &request, local);
}

grpc::Status LearnerService::StartSession(grpc::ServerContext* /*context*/,
                                          const v1::StartSessionRequest* request,
                                          v1::StartSessionResponse* response) {
  auto answer = [&](absl::Status status) {
    requests_->WithLabels({"StartSession", absl::StatusCodeToString(status.code())}).Increment();
    return rpc::ToGrpcStatus(status);
  };
  // Refuse a bad request here, before any other rank hears of it.
  if (absl::Status checked = CheckStartSessionRequest(*request); !checked.ok()) {
    return answer(checked);
  }
  absl::StatusOr<SessionOptions> options = clients::SessionOptionsFromProto(request->config());
  if (!options.ok()) return answer(options.status());
  // Every rank gets the same id and the same resolved seed.
  v1::StartSessionRequest replicated = *request;
  std::random_device random;
  if (replicated.config().seed() == 0) {
    replicated.mutable_config()->set_seed((static_cast<uint64_t>(random()) << 32) | random());
  }
  const std::string id = absl::StrFormat("s-%08x%08x", random(), random());
  bool created = false;
  absl::StatusOr<SessionStatus> status = absl::InternalError("not run");
  const absl::Status sent = Replicated(Command::kStartSession, id, replicated, [&] {
    status = RunStartSession(*core_, replicated, id, &created);
  });
  ledger_.NoteResult(sent);
  if (!sent.ok()) return answer(sent);
  ledger_.NoteResult(status.status());
  if (!status.ok()) return answer(status.status());
  ledger_.Recovered();
  if (created) {
    // The policy folder's tokenizer, if it has one, for ModelInfo (the learner itself trains on
    // token ids and needs none).
    std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
    if (std::optional<ModelDescription> model = core_->Model()) {
      absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded =
          tokenizer::LoadTokenizer(model->source);
      if (loaded.ok()) tokenizer = *std::move(loaded);
    }
    absl::MutexLock lock(&mu_);
    config_ = replicated.config();
    labels_.clear();
    labels_.insert(request->labels().begin(), request->labels().end());
    session_started_ = absl::Now();
    tokenizer_ = std::move(tokenizer);
    ledger_.Reset();
  }
  response->set_session_id(status->id);
  response->set_created(created);
  response->set_policy_version(status->policy_version);
  FillModel(response->mutable_model());
  version_->Set(static_cast<double>(status->policy_version));
  return answer(absl::OkStatus());
}

grpc::Status LearnerService::Train(grpc::ServerContext* context, const v1::TrainRequest* request,
                                   v1::TrainResponse* response) {
  auto answer = [&](absl::Status status) {
    requests_->WithLabels({"Train", absl::StatusCodeToString(status.code())}).Increment();
    return rpc::ToGrpcStatus(status);
  };
  if (absl::Status checked = CheckTrainRequest(*request); !checked.ok()) return answer(checked);
  absl::StatusOr<std::optional<TrainStats>> remembered = ledger_.BeginTrain(request->sequence());
  if (!remembered.ok()) return answer(remembered.status());
  if (remembered->has_value()) {  // a retry of the last call: not trained again
    StatsToProto(**remembered, request->sequence(), response->mutable_stats());
    return answer(absl::OkStatus());
  }
  // The caller's cancellation or deadline abandons the update at its next boundary.
  const CancelPredicate cancelled = [context] {
    return context->IsCancelled() || context->deadline() <= std::chrono::system_clock::now();
  };
  absl::StatusOr<TrainStats> stats = absl::InternalError("not run");
  const absl::Status replicated = Replicated(
      Command::kTrain, "", *request, [&] { stats = RunTrain(*core_, *request, cancelled); });
  if (!replicated.ok()) stats = replicated;
  if (stats.status().code() == absl::StatusCode::kCancelled &&
      context->deadline() <= std::chrono::system_clock::now()) {
    stats = absl::DeadlineExceededError(stats.status().message());
  }
  ledger_.EndTrain(request->sequence(), stats);
  if (!stats.ok()) return answer(stats.status());
  StatsToProto(*stats, request->sequence(), response->mutable_stats());
  RecordStats(*stats);
  return answer(absl::OkStatus());
}

grpc::Status LearnerService::PublishWeights(grpc::ServerContext* context,
                                            const v1::PublishWeightsRequest* request,
                                            v1::PublishWeightsResponse* response) {
  auto answer = [&](absl::Status status) {
    requests_->WithLabels({"PublishWeights", absl::StatusCodeToString(status.code())}).Increment();
    return rpc::ToGrpcStatus(status);
  };
  if (absl::Status checked = CheckSessionRequest(*request, request->session_id()); !checked.ok()) {
    return answer(checked);
  }
  if (absl::Status checked = CheckPublishTargets(*request, publish_.targets); !checked.ok()) {
    return answer(checked);
  }
  const google::protobuf::Duration& limit = request->target_timeout();
  if (absl::Status failed = ledger_.CheckNotFailed(); !failed.ok()) return answer(failed);
  bool idle = false;
  if (!publishing_.compare_exchange_strong(idle, true)) {
    return answer(absl::AbortedError(
        "another PublishWeights is running (one at a time: each holds a copy of the policy); "
        "retry when it has finished"));
  }
  struct Release {
    std::atomic<bool>* flag;
    ~Release() { flag->store(false); }
  } release{&publishing_};
  c10::ScalarType dtype = torch::kFloat;
  switch (request->dtype()) {
    case v1::DTYPE_UNSPECIFIED:
    case v1::DTYPE_FLOAT32:
      break;
    case v1::DTYPE_BFLOAT16:
      dtype = torch::kBFloat16;
      break;
    case v1::DTYPE_FLOAT16:
      dtype = torch::kHalf;
      break;
    default:
      return answer(absl::InvalidArgumentError("dtype must be FLOAT32, BFLOAT16 or FLOAT16"));
  }
  const auto start = Clock::now();
  absl::StatusOr<PolicyWeights> weights = core_->Weights(request->session_id(), dtype);
  if (!weights.ok()) return answer(weights.status());
  const absl::Duration timeout =
      limit.seconds() == 0 && limit.nanos() == 0
          ? absl::Seconds(300)
          : absl::Seconds(limit.seconds()) + absl::Nanoseconds(limit.nanos());
  std::vector<clients::PublishTarget> targets;
  for (const v1::PublishTarget& t : request->targets())
    targets.push_back({t.endpoint(), t.model()});
  const std::vector<clients::PublishTargetOutcome> outcomes =
      publisher_.Publish(weights->tensors,
                         {.version = weights->version,
                          .source = absl::StrCat("learner:", request->session_id()),
                          .architecture = weights->architecture,
                          .allow_downgrade = request->allow_downgrade(),
                          .target_timeout = timeout,
                          .cancelled = [context] { return context->IsCancelled(); }},
                         targets);
  std::vector<v1::PublishTargetResult> results;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    v1::PublishTargetResult& result = results.emplace_back();
    *result.mutable_target() = request->targets(static_cast<int>(i));
    result.set_code(static_cast<int32_t>(outcomes[i].status.code()));
    result.set_error_message(std::string(outcomes[i].status.message()));
    result.set_bytes(outcomes[i].bytes);
    result.set_previous_version(outcomes[i].previous_version);
    result.set_seconds(outcomes[i].seconds);
  }
  uint64_t total = 0;
  int failed = 0;
  for (const v1::PublishTargetResult& r : results) {
    total += r.bytes();
    if (r.code() != 0 && r.code() != static_cast<int>(absl::StatusCode::kAlreadyExists)) ++failed;
    sync_seconds_->Observe(r.seconds());
    *response->add_results() = r;
  }
  sync_bytes_->Increment(static_cast<double>(total));
  response->set_version(weights->version);
  response->set_bytes(total);
  response->set_failed_targets(failed);
  response->set_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  return answer(absl::OkStatus());
}

grpc::Status LearnerService::SaveCheckpoint(grpc::ServerContext* /*context*/,
                                            const v1::SaveCheckpointRequest* request,
                                            v1::SaveCheckpointResponse* response) {
  const auto start = Clock::now();
  const absl::Status checked = CheckSessionRequest(*request, request->session_id());
  absl::StatusOr<CheckpointInfo> saved = absl::InternalError("not run");
  if (!checked.ok()) saved = checked;
  if (checked.ok()) {
    saved = core_->SaveCheckpoint(request->session_id(), request->path(), request->weights_only(),
                                  request->overwrite());
  }
  requests_->WithLabels({"SaveCheckpoint", absl::StatusCodeToString(saved.status().code())})
      .Increment();
  if (!saved.ok()) return rpc::ToGrpcStatus(saved.status());
  response->set_path(saved->path);
  response->set_policy_version(saved->version);
  response->set_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  return grpc::Status::OK;
}

grpc::Status LearnerService::LoadCheckpoint(grpc::ServerContext* /*context*/,
                                            const v1::LoadCheckpointRequest* request,
                                            v1::LoadCheckpointResponse* response) {
  const auto start = Clock::now();
  const absl::Status checked = CheckSessionRequest(*request, request->session_id());
  absl::StatusOr<CheckpointInfo> loaded = absl::InternalError("not run");
  if (!checked.ok()) loaded = checked;
  if (checked.ok()) {
    const absl::Status replicated = Replicated(Command::kLoadCheckpoint, "", *request, [&] {
      loaded =
          core_->LoadCheckpoint(request->session_id(), request->path(), request->weights_only());
    });
    if (!replicated.ok()) loaded = replicated;
  }
  ledger_.NoteResult(loaded.status());
  requests_->WithLabels({"LoadCheckpoint", absl::StatusCodeToString(loaded.status().code())})
      .Increment();
  if (!loaded.ok()) return rpc::ToGrpcStatus(loaded.status());
  ledger_.Recovered();
  response->set_path(loaded->path);
  response->set_policy_version(loaded->version);
  response->set_seconds(std::chrono::duration<double>(Clock::now() - start).count());
  version_->Set(static_cast<double>(loaded->version));
  return grpc::Status::OK;
}

grpc::Status LearnerService::EndSession(grpc::ServerContext* /*context*/,
                                        const v1::EndSessionRequest* request,
                                        v1::EndSessionResponse* response) {
  const absl::Status checked = CheckSessionRequest(*request, request->session_id());
  absl::StatusOr<uint64_t> version = absl::InternalError("not run");
  if (!checked.ok()) version = checked;
  if (checked.ok()) {
    const absl::Status replicated = Replicated(Command::kEndSession, "", *request, [&] {
      version = core_->EndSession(request->session_id());
    });
    if (!replicated.ok()) version = replicated;
  }
  requests_->WithLabels({"EndSession", absl::StatusCodeToString(version.status().code())})
      .Increment();
  if (!version.ok()) return rpc::ToGrpcStatus(version.status());
  response->set_policy_version(*version);
  return grpc::Status::OK;
}

}  // namespace plumb::learner
