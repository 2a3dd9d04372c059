#include "services/plumb-generator/generator_service.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rpc/grpc_status.h"
#include "common/service/service_host.h"
#include "common/tensor/tensor_codec.h"

namespace plumb::generator {
namespace {

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t nanos = absl::ToUnixNanos(t);
  out.set_seconds(nanos / 1000000000);
  out.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return out;
}

std::string NewRequestId() {
  std::random_device random;
  return absl::StrFormat("%08x%08x", random(), random());
}

v1::FinishReason ToProto(Finish finish) {
  switch (finish) {
    case Finish::kStop:
      return v1::FINISH_REASON_STOP;
    case Finish::kLength:
      return v1::FINISH_REASON_LENGTH;
    case Finish::kCancelled:
      return v1::FINISH_REASON_CANCELLED;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

}  // namespace

GeneratorService::GeneratorService(GeneratorCore* core, metrics::Registry* registry,
                                   std::string device)
    : core_(core), device_(std::move(device)) {
  loads_ = registry
               ->AddCounter("plumb_generator_weight_loads_total",
                            "LoadWeights calls by result code.", {"code"})
               .value();
  load_bytes_ = &registry
                     ->AddCounter("plumb_generator_weight_load_bytes_total",
                                  "Weight bytes received by successful LoadWeights calls.")
                     .value()
                     ->WithLabels({});
  load_seconds_ = &registry
                       ->AddHistogram("plumb_generator_weight_load_seconds",
                                      "Seconds from a weight manifest to the swap.")
                       .value()
                       ->WithLabels({});
}

grpc::Status GeneratorService::Generate(grpc::ServerContext* context,
                                        const v1::GenerateRequest* request,
                                        grpc::ServerWriter<v1::Rollout>* writer) {
  GenerateJob job;
  job.request_id = request->request_id().empty() ? NewRequestId() : request->request_id();
  for (const v1::Prompt& prompt : request->prompts()) {
    PromptInput input;
    input.id = prompt.id();
    if (prompt.has_text()) {
      input.text = prompt.text();
    } else {
      input.token_ids.assign(prompt.token_ids().ids().begin(), prompt.token_ids().ids().end());
    }
    job.prompts.push_back(std::move(input));
  }
  const v1::SamplingParams& s = request->sampling();
  if (s.has_temperature()) job.sampling.temperature = s.temperature();
  job.sampling.top_k = s.top_k();
  if (s.has_top_p()) job.sampling.top_p = s.top_p();
  job.sampling.max_new_tokens = s.max_new_tokens();
  job.sampling.stop_token_ids.assign(s.stop_token_ids().begin(), s.stop_token_ids().end());
  job.sampling.stop_strings.assign(s.stop_strings().begin(), s.stop_strings().end());
  job.sampling.num_samples = s.num_samples();
  job.sampling.seed = s.seed();
  job.sampling.return_logprobs = s.return_logprobs();
  job.sampling.ignore_eos = s.ignore_eos();
  job.sampling.min_new_tokens = s.min_new_tokens();
  if (request->has_min_policy_version()) job.min_policy_version = request->min_policy_version();
  const std::string request_id = job.request_id;
  absl::Status status = core_->Generate(
      std::move(job),
      [&](const RolloutResult& r) {
        v1::Rollout rollout;
        rollout.set_request_id(request_id);
        rollout.set_prompt_id(r.prompt_id);
        rollout.set_sample_index(static_cast<int32_t>(r.sample_index));
        rollout.mutable_prompt_token_ids()->Assign(r.prompt_ids.begin(), r.prompt_ids.end());
        rollout.mutable_response_token_ids()->Assign(r.response_ids.begin(), r.response_ids.end());
        rollout.set_response_text(r.response_text);
        rollout.mutable_logprobs()->Assign(r.logprobs.begin(), r.logprobs.end());
        rollout.set_finish_reason(ToProto(r.finish));
        rollout.set_policy_version(r.policy_version);
        rollout.set_seconds(r.seconds);
        return writer->Write(rollout);
      },
      [context] { return context->IsCancelled(); });
  return rpc::ToGrpcStatus(status);
}

grpc::Status GeneratorService::LoadWeights(grpc::ServerContext* /*context*/,
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

grpc::Status GeneratorService::GetInfo(grpc::ServerContext* /*context*/,
                                       const v1::GeneratorGetInfoRequest* /*request*/,
                                       v1::GeneratorGetInfoResponse* response) {
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
  const tokenizer::Tokenizer* tok = core_->tokenizer();
  info->set_tokenizer(tok != nullptr ? tok->description() : "");
  info->set_bos_token_id(tok != nullptr ? tok->bos_id().value_or(-1) : -1);
  info->set_eos_token_id(tok != nullptr ? tok->eos_id().value_or(-1) : -1);
  info->set_pad_token_id(tok != nullptr ? tok->pad_id().value_or(-1) : -1);
  v1::ServerInfo* server = response->mutable_server();
  server->set_build_version(service::PlumbVersion());
  *server->mutable_start_time() = ToTimestamp(start_);
  const GeneratorLimits& l = core_->limits();
  response->set_max_prompts_per_request(l.max_prompts_per_request);
  response->set_max_num_samples(l.max_num_samples);
  response->set_max_sequences_per_request(l.max_sequences_per_request);
  response->set_max_new_tokens_limit(l.max_new_tokens_limit);
  response->set_default_max_new_tokens(l.default_max_new_tokens);
  response->set_max_batch_size(l.max_batch_size);
  response->set_queue_capacity(l.queue_capacity);
  const GeneratorLoad load = core_->load();
  response->set_running_sequences(load.running_sequences);
  response->set_queued_sequences(load.queued_sequences);
  response->set_active_requests(load.active_requests);
  response->set_tokens_per_second(load.tokens_per_second);
  response->set_loading_weights(core_->model().loading());
  return grpc::Status::OK;
}

}  // namespace plumb::generator
