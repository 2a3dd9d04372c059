// GeneratorClient over plumb.v1.Generator.
#include <grpcpp/grpcpp.h>

#include <utility>

#include "common/clients/grpc_call.h"
#include "common/clients/grpc_clients.h"
#include "common/status/status_macros.h"
#include "plumb/v1/generator.grpc.pb.h"

namespace plumb::clients {
namespace {

void ToProto(const generator::GenerateJob& job, v1::GenerateRequest* request) {
  request->set_request_id(job.request_id);
  request->set_priority(job.priority);
  if (job.min_policy_version.has_value()) request->set_min_policy_version(*job.min_policy_version);
  for (const generator::PromptInput& p : job.prompts) {
    v1::Prompt* prompt = request->add_prompts();
    prompt->set_id(p.id);
    if (p.text.has_value()) {
      prompt->set_text(*p.text);
    } else {
      prompt->mutable_token_ids()->mutable_ids()->Add(p.token_ids.begin(), p.token_ids.end());
    }
  }
  const generator::SamplingRequest& s = job.sampling;
  v1::SamplingParams* sampling = request->mutable_sampling();
  if (s.temperature.has_value()) sampling->set_temperature(static_cast<float>(*s.temperature));
  sampling->set_top_k(static_cast<int32_t>(s.top_k));
  if (s.top_p.has_value()) sampling->set_top_p(static_cast<float>(*s.top_p));
  sampling->set_max_new_tokens(static_cast<int32_t>(s.max_new_tokens));
  sampling->mutable_stop_token_ids()->Add(s.stop_token_ids.begin(), s.stop_token_ids.end());
  for (const std::string& stop : s.stop_strings) sampling->add_stop_strings(stop);
  sampling->set_num_samples(static_cast<int32_t>(s.num_samples));
  sampling->set_seed(s.seed);
  sampling->set_return_logprobs(s.return_logprobs);
  sampling->set_ignore_eos(s.ignore_eos);
  sampling->set_min_new_tokens(static_cast<int32_t>(s.min_new_tokens));
}

generator::RolloutResult FromProto(const v1::Rollout& r) {
  generator::RolloutResult out;
  out.prompt_id = r.prompt_id();
  out.sample_index = r.sample_index();
  out.prompt_ids.assign(r.prompt_token_ids().begin(), r.prompt_token_ids().end());
  out.response_ids.assign(r.response_token_ids().begin(), r.response_token_ids().end());
  out.response_text = r.response_text();
  out.has_text = r.has_response_text();
  out.logprobs.assign(r.logprobs().begin(), r.logprobs().end());
  switch (r.finish_reason()) {
    case v1::FINISH_REASON_STOP:
      out.finish = generator::Finish::kStop;
      break;
    case v1::FINISH_REASON_CANCELLED:
      out.finish = generator::Finish::kCancelled;
      break;
    default:  // LENGTH, CONTEXT_LENGTH
      out.finish = generator::Finish::kLength;
  }
  out.policy_version = r.policy_version();
  out.seconds = r.seconds();
  return out;
}

class GrpcGeneratorClient final : public GeneratorClient,
                                  private internal::GrpcStub<v1::Generator> {
 public:
  using GrpcStub::GrpcStub;

  const std::string& endpoint() const override { return options_.target; }

  absl::Status Generate(const generator::GenerateJob& job, const CallOptions& options,
                        const std::function<bool(generator::RolloutResult)>& on_rollout) override {
    if (options.cancelled()) return absl::CancelledError("cancelled before the call");
    v1::GenerateRequest request;
    ToProto(job, &request);
    internal::GrpcCall call(options_, options);
    std::unique_ptr<grpc::ClientReader<v1::Rollout>> reader =
        stub_->Generate(call.context(), request);
    v1::Rollout rollout;
    bool stopped = false;
    while (reader->Read(&rollout)) {
      if (!on_rollout(FromProto(rollout))) {
        call.context()->TryCancel();
        stopped = true;
        break;
      }
    }
    const grpc::Status status = reader->Finish();
    if (stopped) return absl::CancelledError("the caller stopped the rollouts");
    return rpc::FromGrpcStatus(status);
  }

  absl::StatusOr<GeneratorStatus> GetStatus(const CallOptions& options) override {
    v1::GeneratorGetInfoResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->GetInfo(context, v1::GeneratorGetInfoRequest(), &response);
    }));
    GeneratorStatus status;
    status.policy_version = response.model().policy_version();
    status.loading_weights = response.loading_weights();
    status.load.running_sequences = response.running_sequences();
    status.load.queued_sequences = response.queued_sequences();
    status.load.active_requests = response.active_requests();
    status.load.tokens_per_second = response.tokens_per_second();
    status.max_sequences_per_request = response.max_sequences_per_request();
    return status;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<GeneratorClient>> NewGrpcGeneratorClient(
    const rpc::ChannelOptions& options) {
  return internal::WithChannel<GrpcGeneratorClient>(options);
}

}  // namespace plumb::clients
