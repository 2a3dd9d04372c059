// ScorerClient over plumb.v1.RewardScorer.
#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clients/grpc_call.h"
#include "common/clients/grpc_clients.h"
#include "common/status/status_macros.h"
#include "plumb/v1/scorer.grpc.pb.h"

namespace plumb::clients {
namespace {

class GrpcScorerClient final : public ScorerClient, private internal::GrpcStub<v1::RewardScorer> {
 public:
  using GrpcStub::GrpcStub;

  const std::string& endpoint() const override { return options_.target; }

  absl::StatusOr<std::vector<scorer::ScoreOutput>> Score(
      const std::vector<scorer::ScoreInput>& items, const std::vector<std::string>& objectives,
      const CallOptions& options) override {
    v1::ScoreRequest request;
    for (const std::string& name : objectives) request.add_objectives(name);
    for (const scorer::ScoreInput& in : items) {
      v1::ScoreItem* item = request.add_items();
      item->set_id(in.id);
      v1::Prompt* prompt = item->mutable_prompt();
      // The proto's prompt is text or ids; ids win when both are given (they are what the
      // policy saw).
      if (!in.prompt_ids.empty() || in.prompt_text.empty()) {
        prompt->mutable_token_ids()->mutable_ids()->Add(in.prompt_ids.begin(), in.prompt_ids.end());
      } else {
        prompt->set_text(in.prompt_text);
      }
      for (const auto& [key, value] : in.prompt_metadata) {
        prompt->mutable_metadata()->insert({key, value});
      }
      if (in.response_text_given || !in.response_text.empty()) {
        item->mutable_response()->set_text(in.response_text);
      }
      item->mutable_response()->mutable_token_ids()->Add(in.response_ids.begin(),
                                                         in.response_ids.end());
    }
    v1::ScoreResponse response;
    RETURN_IF_ERROR(internal::Unary(options_, options, [&](grpc::ClientContext* context) {
      return stub_->Score(context, request, &response);
    }));
    if (response.results_size() != static_cast<int>(items.size())) {
      return absl::InternalError(absl::StrCat(endpoint(), " answered ", response.results_size(),
                                              " scores for ", items.size(), " items"));
    }
    std::vector<scorer::ScoreOutput> out;
    out.reserve(items.size());
    for (const v1::ScoredResponse& r : response.results()) {
      scorer::ScoreOutput o;
      o.id = r.id();
      for (const v1::ObjectiveScore& s : r.scores()) o.scores.push_back({s.objective(), s.value()});
      if (r.has_reward()) o.reward = r.reward();
      o.gated = r.safety_gating_applied();
      out.push_back(std::move(o));
    }
    return out;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<ScorerClient>> NewGrpcScorerClient(
    const rpc::ChannelOptions& options) {
  return internal::WithChannel<GrpcScorerClient>(options);
}

}  // namespace plumb::clients
