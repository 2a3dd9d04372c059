#include "services/plumb-reference/reference_service.h"

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/message_checks.h"
#include "common/service/server_info.h"
#include "common/service/service_host.h"
#include "common/status/status_macros.h"
#include "common/weights/model_service_support.h"

namespace plumb::reference {
absl::StatusOr<std::unique_ptr<ReferenceService>> ReferenceService::Create(
    ReferenceCore* core, metrics::Registry* registry, std::string device,
    absl::Duration weight_stream_idle_timeout) {
  std::unique_ptr<ReferenceService> service(
      new ReferenceService(core, std::move(device), weight_stream_idle_timeout));
  RETURN_IF_ERROR(service->load_weights_.RegisterMetrics(registry, "plumb_reference"));
  return service;
}

ReferenceService::ReferenceService(ReferenceCore* core, std::string device,
                                   absl::Duration weight_stream_idle_timeout)
    : core_(core), device_(std::move(device)), load_weights_(weight_stream_idle_timeout) {}

grpc::Status ReferenceService::LogProbs(grpc::ServerContext* /*context*/,
                                        const v1::LogProbsRequest* request,
                                        v1::LogProbsResponse* response) {
  if (absl::Status checked = rpc::CheckMessageValues(*request, "request"); !checked.ok()) {
    return rpc::ToGrpcStatus(checked);
  }
  LogProbsJob job;
  job.items.reserve(request->items_size());
  for (const v1::LogProbsItem& item : request->items()) {
    LogProbsItem& out = job.items.emplace_back();
    out.id = item.id();
    out.prompt.assign(item.prompt_token_ids().begin(), item.prompt_token_ids().end());
    out.response.assign(item.response_token_ids().begin(), item.response_token_ids().end());
    if (!item.prompt_text().empty()) out.prompt_text = item.prompt_text();
    if (!item.response_text().empty()) out.response_text = item.response_text();
  }
  if (request->has_temperature()) job.temperature = request->temperature();
  job.sum_only = request->sum_only();
  if (request->has_expected_version()) job.expected_version = request->expected_version();
  absl::StatusOr<LogProbsOutcome> outcome = core_->LogProbs(std::move(job));
  if (!outcome.ok()) return rpc::ToGrpcStatus(outcome.status());
  for (size_t i = 0; i < outcome->results.size(); ++i) {
    const LogProbsItemResult& r = outcome->results[i];
    v1::LogProbsResult* out = response->add_results();
    out->set_id(request->items(static_cast<int>(i)).id());
    out->mutable_logprobs()->Assign(r.logprobs.begin(), r.logprobs.end());
    out->set_sum_logprob(r.sum);
    out->set_num_tokens(r.num_tokens);
    out->mutable_prompt_token_ids()->Assign(r.prompt_from_text.begin(), r.prompt_from_text.end());
    out->mutable_response_token_ids()->Assign(r.response_from_text.begin(),
                                              r.response_from_text.end());
  }
  response->set_reference_version(outcome->version);
  response->set_seconds(outcome->seconds);
  return grpc::Status::OK;
}

grpc::Status ReferenceService::LoadWeights(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::WeightChunk>* reader,
                                           v1::LoadWeightsResponse* response) {
  return load_weights_.Serve(context, reader, core_->model(), response);
}

grpc::Status ReferenceService::GetInfo(grpc::ServerContext* /*context*/,
                                       const v1::ReferenceGetInfoRequest* /*request*/,
                                       v1::ReferenceGetInfoResponse* response) {
  weights::FillModelInfo(core_->model(), device_, core_->tokenizer(), response->mutable_model());
  service::FillServerInfo(response->mutable_server());
  response->set_max_items_per_request(core_->limits().max_items_per_request);
  response->set_max_tokens_per_request(core_->limits().max_tokens_per_request);
  response->set_max_batch_size(core_->limits().max_batch_size);
  response->set_queued_requests(core_->queued());
  response->set_loading_weights(core_->model().loading());
  return grpc::Status::OK;
}

}  // namespace plumb::reference
