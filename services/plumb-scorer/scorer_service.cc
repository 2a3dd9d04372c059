#include "services/plumb-scorer/scorer_service.h"

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/rpc/grpc_status.h"
#include "common/rpc/message_checks.h"
#include "common/service/server_info.h"
#include "common/service/service_host.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/weights/model_service_support.h"

namespace plumb::scorer {
namespace {

ScoreInput ToInput(const std::string& id, const v1::Prompt& prompt,
                   const v1::Completion& response) {
  ScoreInput input;
  input.id = id;
  if (prompt.has_text()) input.prompt_text = prompt.text();
  if (prompt.has_token_ids()) {
    input.prompt_ids.assign(prompt.token_ids().ids().begin(), prompt.token_ids().ids().end());
  }
  input.prompt_metadata.insert(prompt.metadata().begin(), prompt.metadata().end());
  input.response_text = response.text();
  input.response_text_given = response.has_text();
  input.response_ids.assign(response.token_ids().begin(), response.token_ids().end());
  return input;
}

// A kind's category is what GetInfo reports; a new kind picks one and needs no line here.
v1::ObjectiveKind ToProto(ObjectiveCategory category) {
  switch (category) {
    case ObjectiveCategory::kRewardModel:
      return v1::OBJECTIVE_KIND_REWARD_MODEL;
    case ObjectiveCategory::kLexicon:
      return v1::OBJECTIVE_KIND_LEXICON;
    case ObjectiveCategory::kRule:
      return v1::OBJECTIVE_KIND_RULE;
    case ObjectiveCategory::kLmJudge:
      return v1::OBJECTIVE_KIND_LM_JUDGE;
  }
  return v1::OBJECTIVE_KIND_UNSPECIFIED;
}

void FillComposition(const CompositionOptions& c, v1::RewardComposition* out) {
  for (const ObjectiveWeight& w : c.weights) {
    v1::ObjectiveWeight* weight = out->add_weights();
    weight->set_objective(w.objective);
    weight->set_weight(static_cast<float>(w.weight));
  }
  if (c.gating.has_value()) {
    out->mutable_gating()->set_safety_objective(c.gating->safety_objective);
    out->mutable_gating()->set_threshold(static_cast<float>(c.gating->threshold));
    out->mutable_gating()->set_prompt_flag_key(c.gating->prompt_flag_key);
  }
  out->set_logit_transform(c.logit_transform);
  out->set_offset(static_cast<float>(c.offset));
  out->set_scale(static_cast<float>(c.scale));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScorerService>> ScorerService::Create(
    Scorer* scorer, metrics::Registry* registry, int max_pairs_per_request,
    absl::Duration weight_stream_idle_timeout) {
  std::unique_ptr<ScorerService> service(
      new ScorerService(scorer, max_pairs_per_request, weight_stream_idle_timeout));
  RETURN_IF_ERROR(service->load_weights_.RegisterMetrics(registry, "plumb_scorer"));
  RETURN_IF_ERROR(service->RegisterMetrics(registry));
  return service;
}

ScorerService::ScorerService(Scorer* scorer, int max_pairs_per_request,
                             absl::Duration weight_stream_idle_timeout)
    : scorer_(scorer),
      max_pairs_per_request_(max_pairs_per_request),
      load_weights_(weight_stream_idle_timeout) {}

absl::Status ScorerService::RegisterMetrics(metrics::Registry* registry) {
  ASSIGN_OR_RETURN(requests_,
                   registry->AddCounter("plumb_scorer_requests_total",
                                        "Score, Compare and LoadWeights calls by result code.",
                                        {"rpc", "code"}));
  ASSIGN_OR_RETURN(
      metrics::HistogramFamily * latency,
      registry->AddHistogram("plumb_scorer_request_seconds", "Score and Compare latency."));
  latency_ = &latency->WithLabels({});
  ASSIGN_OR_RETURN(std::vector<double> sizes, metrics::ExponentialBuckets(1, 2, 12));
  ASSIGN_OR_RETURN(metrics::HistogramFamily * batch,
                   registry->AddHistogram("plumb_scorer_batch_size",
                                          "Items per Score or Compare request.", {}, sizes));
  batch_ = &batch->WithLabels({});
  ASSIGN_OR_RETURN(metrics::CounterFamily * hits,
                   registry->AddCounter("plumb_scorer_cache_hits_total", "Score cache hits."));
  cache_hits_ = &hits->WithLabels({});
  ASSIGN_OR_RETURN(metrics::CounterFamily * misses,
                   registry->AddCounter("plumb_scorer_cache_misses_total", "Score cache misses."));
  cache_misses_ = &misses->WithLabels({});
  ASSIGN_OR_RETURN(versions_, registry->AddGauge("plumb_scorer_objective_version",
                                                 "Weights version of each reward-model objective.",
                                                 {"objective"}));
  for (const ObjectiveDescription& d : scorer_->Describe()) {
    if (d.model.has_value()) {
      versions_->WithLabels({d.name}).Set(static_cast<double>(d.model->version));
    }
  }
  return absl::OkStatus();
}

grpc::Status ScorerService::Score(grpc::ServerContext* /*context*/, const v1::ScoreRequest* request,
                                  v1::ScoreResponse* response) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status checked = rpc::CheckMessageValues(*request, "request");
  for (int i = 0; checked.ok() && i < request->items_size(); ++i) {
    checked = rpc::CheckPromptMetadata(request->items(i).prompt().metadata(),
                                       absl::StrCat("request.items[", i, "].prompt.metadata"));
  }
  if (!checked.ok()) {
    requests_->WithLabels({"Score", absl::StatusCodeToString(checked.code())}).Increment();
    return rpc::ToGrpcStatus(checked);
  }
  std::vector<ScoreInput> items;
  items.reserve(request->items_size());
  for (const v1::ScoreItem& item : request->items()) {
    items.push_back(ToInput(item.id(), item.prompt(), item.response()));
  }
  const CacheStats before = scorer_->cache_stats();
  absl::StatusOr<std::vector<ScoreOutput>> scored =
      scorer_->Score(items, {request->objectives().begin(), request->objectives().end()});
  requests_->WithLabels({"Score", absl::StatusCodeToString(scored.status().code())}).Increment();
  if (!scored.ok()) return rpc::ToGrpcStatus(scored.status());
  const CacheStats after = scorer_->cache_stats();
  cache_hits_->Increment(static_cast<double>(after.hits - before.hits));
  cache_misses_->Increment(static_cast<double>(after.misses - before.misses));
  for (const ScoreOutput& out : *scored) {
    v1::ScoredResponse* result = response->add_results();
    result->set_id(out.id);
    for (const NamedScore& s : out.scores) {
      v1::ObjectiveScore* score = result->add_scores();
      score->set_objective(s.objective);
      score->set_value(static_cast<float>(s.value));
    }
    if (out.reward.has_value()) result->set_reward(static_cast<float>(*out.reward));
    result->set_safety_gating_applied(out.gated);
  }
  FillComposition(scorer_->composition(), response->mutable_composition());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  response->set_seconds(seconds);
  latency_->Observe(seconds);
  batch_->Observe(static_cast<double>(items.size()));
  return grpc::Status::OK;
}

grpc::Status ScorerService::Compare(grpc::ServerContext* /*context*/,
                                    const v1::CompareRequest* request,
                                    v1::CompareResponse* response) {
  const auto start = std::chrono::steady_clock::now();
  auto fail = [&](absl::Status status) {
    requests_->WithLabels({"Compare", absl::StatusCodeToString(status.code())}).Increment();
    return rpc::ToGrpcStatus(status);
  };
  if (absl::Status checked = rpc::CheckMessageValues(*request, "request"); !checked.ok()) {
    return fail(checked);
  }
  if (request->pairs_size() > max_pairs_per_request_) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        request->pairs_size(), " pairs exceed max_pairs_per_request ", max_pairs_per_request_)));
  }
  std::vector<ScoreInput> firsts, lasts;
  for (const v1::ComparePair& pair : request->pairs()) {
    if (pair.id().empty()) return fail(absl::InvalidArgumentError("a pair without an id"));
    firsts.push_back(ToInput(pair.id() + "/first", pair.prompt(), pair.first()));
    lasts.push_back(ToInput(pair.id() + "/second", pair.prompt(), pair.second()));
  }
  absl::StatusOr<CompareOutput> compared =
      scorer_->Compare(firsts, lasts, request->judge(), request->principle());
  if (!compared.ok()) return fail(compared.status());
  for (int i = 0; i < request->pairs_size(); ++i) {
    v1::PairComparison* result = response->add_results();
    result->set_id(request->pairs(i).id());
    result->set_p_first_preferred(static_cast<float>(compared->p_first[i]));
  }
  response->set_judge(compared->judge);
  response->set_principle(compared->principle);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  response->set_seconds(seconds);
  latency_->Observe(seconds);
  batch_->Observe(2.0 * request->pairs_size());
  requests_->WithLabels({"Compare", "OK"}).Increment();
  return grpc::Status::OK;
}

grpc::Status ScorerService::LoadWeights(grpc::ServerContext* context,
                                        grpc::ServerReader<v1::WeightChunk>* reader,
                                        v1::LoadWeightsResponse* response) {
  // The manifest's `model` names the objective whose VersionedModel receives the stream.
  std::string objective;
  const grpc::Status status = load_weights_.Serve(
      context, reader,
      [&](const std::string& name) {
        objective = name;
        return scorer_->ModelForWeights(name);
      },
      response);
  requests_
      ->WithLabels({"LoadWeights", absl::StatusCodeToString(rpc::FromGrpcStatus(status).code())})
      .Increment();
  if (status.ok()) versions_->WithLabels({objective}).Set(static_cast<double>(response->version()));
  return status;
}

grpc::Status ScorerService::GetInfo(grpc::ServerContext* /*context*/,
                                    const v1::RewardScorerGetInfoRequest* /*request*/,
                                    v1::RewardScorerGetInfoResponse* response) {
  service::FillServerInfo(response->mutable_server());
  for (const ObjectiveDescription& d : scorer_->Describe()) {
    v1::ObjectiveInfo* info = response->add_objectives();
    info->set_name(d.name);
    info->set_kind(ToProto(d.category));
    info->set_description(d.description);
    info->set_mean(static_cast<float>(d.mean));
    info->set_stddev(static_cast<float>(d.stddev));
    if (d.model.has_value()) {
      v1::ModelInfo* m = info->mutable_model();
      m->set_architecture(d.model->architecture);
      m->set_parameter_count(static_cast<uint64_t>(d.model->parameter_count));
      m->set_vocab_size(static_cast<int32_t>(d.model->vocab_size));
      m->set_context_length(static_cast<int32_t>(d.model->context_length));
      m->set_device(d.model->device);
      m->set_policy_version(d.model->version);
      m->set_weights_source(d.model->weights_source);
      m->set_tokenizer(d.model->tokenizer);
    }
  }
  FillComposition(scorer_->composition(), response->mutable_composition());
  v1::JudgeInfo* composed = response->add_judges();
  composed->set_name(kComposedRewardJudge);
  composed->set_kind(v1::JUDGE_KIND_REWARD_MODEL);
  for (const v1::ObjectiveInfo& objective : response->objectives()) {
    const PairwiseJudge* pairwise = scorer_->FindJudge(objective.name());
    if (pairwise == nullptr) continue;
    const JudgeDescription d = pairwise->DescribeJudge();
    v1::JudgeInfo* judge = response->add_judges();
    judge->set_name(objective.name());
    judge->set_kind(v1::JUDGE_KIND_LM);
    *judge->mutable_model() = objective.model();
    judge->set_preamble(d.preamble);
    judge->set_few_shot_examples(d.few_shot_examples);
    for (const auto& [name, text] : d.principles) {
      v1::Principle* principle = judge->add_principles();
      principle->set_name(name);
      principle->set_text(text);
    }
    judge->set_default_principle(d.default_principle);
    judge->set_position_debiased(d.position_debiased);
    judge->set_objective(objective.name());
  }
  response->set_default_judge(scorer_->default_judge());
  response->set_max_items_per_request(scorer_->options().max_items_per_request);
  response->set_max_pairs_per_request(max_pairs_per_request_);
  return grpc::Status::OK;
}

}  // namespace plumb::scorer
