#include "services/plumb-generator/generator_service.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/message_checks.h"
#include "common/service/server_info.h"
#include "common/service/service_host.h"
#include "common/status/status_macros.h"
#include "common/weights/model_service_support.h"

namespace plumb::generator {
namespace {

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

// What the proto documents beyond the core's own checks: finite values, declared enums, the
// priority range and prompt metadata bounds.
absl::Status CheckRequest(const v1::GenerateRequest& request) {
  RETURN_IF_ERROR(rpc::CheckMessageValues(request, "request"));
  if (request.priority() < -10 || request.priority() > 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("request.priority: ", request.priority(), " is outside [-10, 10]"));
  }
  for (int i = 0; i < request.prompts_size(); ++i) {
    RETURN_IF_ERROR(rpc::CheckPromptMetadata(request.prompts(i).metadata(),
                                             absl::StrCat("request.prompts[", i, "].metadata")));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<GeneratorService>> GeneratorService::Create(
    GeneratorCore* core, metrics::Registry* registry, std::string device,
    absl::Duration weight_stream_idle_timeout) {
  std::unique_ptr<GeneratorService> service(
      new GeneratorService(core, std::move(device), weight_stream_idle_timeout));
  RETURN_IF_ERROR(service->load_weights_.RegisterMetrics(registry, "plumb_generator"));
  return service;
}

GeneratorService::GeneratorService(GeneratorCore* core, std::string device,
                                   absl::Duration weight_stream_idle_timeout)
    : core_(core), device_(std::move(device)), load_weights_(weight_stream_idle_timeout) {}

grpc::Status GeneratorService::Generate(grpc::ServerContext* context,
                                        const v1::GenerateRequest* request,
                                        grpc::ServerWriter<v1::Rollout>* writer) {
  if (absl::Status checked = CheckRequest(*request); !checked.ok()) {
    return rpc::ToGrpcStatus(checked);
  }
  GenerateJob job;
  job.request_id = request->request_id().empty() ? NewRequestId() : request->request_id();
  job.priority = request->priority();
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
  const std::string generator_id = service::ServingEndpoint();
  absl::Status status = core_->Generate(
      std::move(job),
      [&](const RolloutResult& r) {
        v1::Rollout rollout;
        rollout.set_request_id(request_id);
        rollout.set_prompt_id(r.prompt_id);
        rollout.set_sample_index(static_cast<int32_t>(r.sample_index));
        rollout.mutable_prompt_token_ids()->Assign(r.prompt_ids.begin(), r.prompt_ids.end());
        rollout.mutable_response_token_ids()->Assign(r.response_ids.begin(), r.response_ids.end());
        if (r.has_text) rollout.set_response_text(r.response_text);
        rollout.mutable_logprobs()->Assign(r.logprobs.begin(), r.logprobs.end());
        rollout.set_finish_reason(ToProto(r.finish));
        rollout.set_policy_version(r.policy_version);
        rollout.set_seconds(r.seconds);
        rollout.set_generator_id(generator_id);
        return writer->Write(rollout);
      },
      [context] { return context->IsCancelled(); });
  return rpc::ToGrpcStatus(status);
}

grpc::Status GeneratorService::LoadWeights(grpc::ServerContext* context,
                                           grpc::ServerReader<v1::WeightChunk>* reader,
                                           v1::LoadWeightsResponse* response) {
  return load_weights_.Serve(context, reader, core_->model(), response);
}

grpc::Status GeneratorService::GetInfo(grpc::ServerContext* /*context*/,
                                       const v1::GeneratorGetInfoRequest* /*request*/,
                                       v1::GeneratorGetInfoResponse* response) {
  weights::FillModelInfo(core_->model(), device_, core_->tokenizer(), response->mutable_model());
  service::FillServerInfo(response->mutable_server());
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
