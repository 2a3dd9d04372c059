// ReferenceClient over plumb.v1.Reference.
#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clients/grpc_call.h"
#include "common/clients/grpc_clients.h"
#include "common/status/status_macros.h"
#include "plumb/v1/reference.grpc.pb.h"

namespace plumb::clients {
namespace {

class GrpcReferenceClient final : public ReferenceClient,
                                  private internal::GrpcStub<v1::Reference> {
 public:
  using GrpcStub::GrpcStub;

  const std::string& endpoint() const override { return options_.target; }

  absl::StatusOr<reference::LogProbsOutcome> LogProbs(const reference::LogProbsJob& job,
                                                      const CallOptions& options) override {
    v1::LogProbsRequest request;
    if (job.temperature != 1.0 && job.temperature != 0) {
      request.set_temperature(static_cast<float>(job.temperature));
    }
    request.set_sum_only(job.sum_only);
    if (job.expected_version.has_value()) request.set_expected_version(*job.expected_version);
    for (const reference::LogProbsItem& in : job.items) {
      v1::LogProbsItem* item = request.add_items();
      item->set_id(in.id);
      if (in.prompt_text.has_value()) {
        item->set_prompt_text(*in.prompt_text);
      } else {
        item->mutable_prompt_token_ids()->Add(in.prompt.begin(), in.prompt.end());
      }
      if (in.response_text.has_value()) {
        item->set_response_text(*in.response_text);
      } else {
        item->mutable_response_token_ids()->Add(in.response.begin(), in.response.end());
      }
    }
    v1::LogProbsResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->LogProbs(context, request, &response);
    }));
    if (response.results_size() != static_cast<int>(job.items.size())) {
      return absl::InternalError(absl::StrCat(endpoint(), " answered ", response.results_size(),
                                              " results for ", job.items.size(), " items"));
    }
    reference::LogProbsOutcome out;
    out.version = response.reference_version();
    out.seconds = response.seconds();
    for (const v1::LogProbsResult& r : response.results()) {
      reference::LogProbsItemResult result;
      result.logprobs.assign(r.logprobs().begin(), r.logprobs().end());
      result.sum = r.sum_logprob();
      result.num_tokens = r.num_tokens();
      result.prompt_from_text.assign(r.prompt_token_ids().begin(), r.prompt_token_ids().end());
      result.response_from_text.assign(r.response_token_ids().begin(),
                                       r.response_token_ids().end());
      out.results.push_back(std::move(result));
    }
    return out;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ReferenceClient>> NewGrpcReferenceClient(
    const rpc::ChannelOptions& options) {
  return internal::WithChannel<GrpcReferenceClient>(options);
}

}  // namespace plumb::clients
