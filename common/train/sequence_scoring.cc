#include "common/train/sequence_scoring.h"

#include <torch/torch.h>

#include "common/model/logprobs.h"
#include "common/status/status_macros.h"

namespace plumb::train {
namespace {

SequenceScores FromModelScores(model::ResponseScores scores) {
  SequenceScores out;
  out.token_logps = scores.logprobs;
  out.mask = scores.mask;
  out.sum = (scores.logprobs * scores.mask).sum(1);
  out.count = scores.mask.sum(1);
  out.last_hidden = scores.last_hidden;
  out.reward_hidden = scores.reward_hidden;
  return out;
}

}  // namespace

absl::StatusOr<SequenceScores> ScoreRows(model::TransformerImpl& model, const TokenRows& rows) {
  ASSIGN_OR_RETURN(model::ResponseScores scores,
                   model::ScoreResponses(model, rows.prompts, rows.responses));
  return FromModelScores(std::move(scores));
}

absl::StatusOr<WholeSequenceScores> ScoreWholeRows(model::TransformerImpl& model,
                                                   const TokenRows& rows) {
  std::vector<std::vector<int64_t>> firsts, rests;
  int64_t longest = 0;
  for (int64_t i = 0; i < rows.size(); ++i) {
    const std::vector<int64_t>& prompt = rows.prompts[i];
    firsts.push_back({prompt.front()});
    std::vector<int64_t> rest(prompt.begin() + 1, prompt.end());
    rest.insert(rest.end(), rows.responses[i].begin(), rows.responses[i].end());
    longest = std::max<int64_t>(longest, rest.size());
    rests.push_back(std::move(rest));
  }
  // Position t predicts token t + 1 of the whole sequence; it is a response token when
  // t + 1 >= |prompt|.
  std::vector<float> response(rows.size() * longest, 0.f);
  for (int64_t i = 0; i < rows.size(); ++i) {
    const int64_t prompt = rows.prompts[i].size();
    const int64_t total = static_cast<int64_t>(rests[i].size());
    for (int64_t t = prompt - 1; t < total; ++t) response[i * longest + t] = 1.f;
  }
  ASSIGN_OR_RETURN(model::ResponseScores scores, model::ScoreResponses(model, firsts, rests));
  WholeSequenceScores out;
  out.all = FromModelScores(std::move(scores));
  out.response_mask = torch::from_blob(response.data(), {rows.size(), longest}, torch::kFloat)
                          .clone()
                          .to(out.all.mask.device());
  return out;
}

absl::StatusOr<at::Tensor> ScorePackedTokens(model::TransformerImpl& model,
                                             const at::Tensor& input_ids,
                                             const at::Tensor& position_ids,
                                             const at::Tensor& segment_ids,
                                             const at::Tensor& loss_mask) {
  const auto device = model.embed_tokens().device();
  const at::Tensor ids = input_ids.to(device);
  const at::Tensor segments = segment_ids.to(device);
  const at::Tensor hidden = model.Forward(ids, (segments > 0).to(torch::kLong),
                                          position_ids.to(device), nullptr, segments);
  const int64_t length = ids.size(1);
  // Position t predicts token t + 1; only labelled targets get logits.
  const at::Tensor selected = loss_mask.to(device).narrow(1, 1, length - 1) > 0;
  const at::Tensor predictors = hidden.narrow(1, 0, length - 1).index({selected});
  const at::Tensor targets = ids.narrow(1, 1, length - 1).index({selected});
  return model.Logits(predictors)
      .to(torch::kFloat)
      .log_softmax(-1)
      .gather(-1, targets.unsqueeze(-1))
      .squeeze(-1);
}

}  // namespace plumb::train
