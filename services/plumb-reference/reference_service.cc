#include "services/plumb-reference/reference_service.h"

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"
#include "common/service/service_host.h"
#include "common/tensor/tensor_codec.h"

namespace plumb::reference {
namespace {

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(t);
  out.set_seconds(nanos / 1000000000);
  out.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return out;
}

}  // namespace

ReferenceService::ReferenceService(ReferenceCore* core, metrics::Registry* registry,
                                   std::string device)
    : core_(core), device_(std::move(device)) {
  loads_ = registry
               ->AddCounter("plumb_reference_weight_loads_total",
                            "LoadWeights calls by result code.", {"code"})
               .value();
  load_bytes_ = &registry
                     ->AddCounter("plumb_reference_weight_load_bytes_total",
                                  "Weight bytes received by successful LoadWeights calls.")
                     .value()
                     ->WithLabels({});
  load_seconds_ = &registry
                       ->AddHistogram("plumb_reference_weight_load_seconds",
                                      "Seconds from a weight manifest to the swap.")
                       .value()
                       ->WithLabels({});
}

grpc::Status ReferenceService::LogProbs(grpc::ServerContext* /*context*/,
                                        const v1::LogProbsRequest* request,
                                        v1::LogProbsResponse* response) {
  LogProbsJob job;
  job.items.reserve(request->items_size());
  for (const v1::LogProbsItem& item : request->items()) {
    job.items.push_back({item.id(),
                         {item.prompt_token_ids().begin(), item.prompt_token_ids().end()},
                         {item.response_token_ids().begin(), item.response_token_ids().end()}});
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
  }
  response->set_reference_version(outcome->version);
  response->set_seconds(outcome->seconds);
  return grpc::Status::OK;
}

grpc::Status ReferenceService::LoadWeights(grpc::ServerContext* /*context*/,
                                           grpc::ServerReader<v1::WeightChunk>* reader,
                                           v1::LoadWeightsResponse* response) {
  absl::StatusOr<v1::LoadWeightsResponse> loaded = weights::ReceiveWeights(
      [reader](v1::WeightChunk* chunk) { return reader->Read(chunk); }, core_->model());
  loads_->WithLabels({absl::StatusCodeToString(loaded.status().code())}).Increment();
  if (!loaded.ok()) return rpc::ToGrpcStatus(loaded.status());
  load_bytes_->Increment(static_cast<double>(loaded->bytes()));
  load_seconds_->Observe(loaded->seconds());
  *response = *std::move(loaded);
  return grpc::Status::OK;
}

grpc::Status ReferenceService::GetInfo(grpc::ServerContext* /*context*/,
                                       const v1::ReferenceGetInfoRequest* /*request*/,
                                       v1::ReferenceGetInfoResponse* response) {
  std::shared_ptr<weights::ModelSnapshot> snapshot = core_->model().Current();
  const model::ModelConfig& config = core_->model().config();
  v1::ModelInfo* info = response->mutable_model();
  info->set_architecture("llama");
  int64_t parameters = 0;
  for (const at::Tensor& p : snapshot->model->parameters()) parameters += p.numel();
  info->set_parameter_count(static_cast<uint64_t>(parameters));
  info->set_vocab_size(static_cast<int32_t>(config.vocab_size));
  info->set_context_length(static_cast<int32_t>(config.max_position_embeddings));
  info->set_dtype(tensor::ToWireDType(core_->model().placement().dtype).value_or(v1::DType{}));
  info->set_device(device_);
  info->set_policy_version(snapshot->version);
  info->set_weights_source(snapshot->source);
  *info->mutable_weights_loaded_time() = ToTimestamp(snapshot->loaded);
  info->set_bos_token_id(-1);
  info->set_eos_token_id(-1);
  info->set_pad_token_id(-1);
  v1::ServerInfo* server = response->mutable_server();
  server->set_build_version(service::PlumbVersion());
  *server->mutable_start_time() = ToTimestamp(start_);
  response->set_max_items_per_request(core_->limits().max_items_per_request);
  response->set_max_tokens_per_request(core_->limits().max_tokens_per_request);
  response->set_max_batch_size(core_->limits().max_batch_size);
  response->set_queued_requests(core_->queued());
  response->set_loading_weights(core_->model().loading());
  return grpc::Status::OK;
}

}  // namespace plumb::reference
