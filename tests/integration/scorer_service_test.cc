// plumb-scorer end to end: the real binary on loopback with a tiny reward model (made by the real
// plumb-model), the real AFINN-165 lexicon and a length rule; scores, composition, the
// Bradley-Terry judge, bad requests, reward-model weight loads and /metrics.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/model/hf_checkpoint.h"
#include "common/weights/weight_stream_sender.h"
#include "plumb/v1/scorer.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/weight_stream_client.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ScorerServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / "scorer_service_test");
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    for (const char* seed : {"1", "2"}) {
      const absl::Status made =
          testing::MakeTinyModel((*root_ / (std::string("rm") + seed)).string(),
                                 std::string("--reward-outputs 1 --seed ") + seed);
      ASSERT_TRUE(made.ok()) << made;
    }
    absl::StatusOr<testing::RunningService> service = testing::StartServiceWithYaml(
        "plumb-scorer", (*root_ / "scorer.yaml").string(),
        "server: {address: \"127.0.0.1:0\"}\n"
        "metrics: {address: 127.0.0.1, port: 0}\n"
        "scorer:\n"
        "  max_items_per_request: 16\n"
        "  objectives: [helpfulness, sentiment, brevity]\n"
        "  objective_options:\n"
        "    helpfulness: {kind: reward_model, path: rm1}\n"
        "    sentiment: {kind: afinn}\n"
        "    brevity: {kind: length, target_chars: 20, scale: 10}\n"
        "  composition:\n"
        "    weights: {helpfulness: 1.0, sentiment: 0.5, brevity: 0.1}\n");
    ASSERT_TRUE(service.ok()) << service.status();
    grpc_port_ = service->grpc_port;
    metrics_port_ = service->metrics_port;
    process_ = service->process.release();
  }
  static void TearDownTestSuite() {
    delete process_;
    fs::remove_all(*root_);
    delete root_;
  }

  void SetUp() override {
    stub_ = v1::RewardScorer::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                                          grpc::InsecureChannelCredentials()));
  }

  static v1::ScoreRequest Request() {
    v1::ScoreRequest request;
    const std::vector<std::string> responses = {" a good and happy day", " a bad, terrible day"};
    for (size_t i = 0; i < responses.size(); ++i) {
      v1::ScoreItem* item = request.add_items();
      item->set_id("item" + std::to_string(i));
      item->mutable_prompt()->set_text("How was it?");
      item->mutable_response()->set_text(responses[i]);
    }
    return request;
  }

  grpc::Status Score(const v1::ScoreRequest& request, v1::ScoreResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->Score(&context, request, response);
  }

  static double ScoreOf(const v1::ScoredResponse& r, const std::string& objective) {
    for (const v1::ObjectiveScore& s : r.scores()) {
      if (s.objective() == objective) return s.value();
    }
    ADD_FAILURE() << "no score for " << objective;
    return 0;
  }

  grpc::Status SendWeights(const std::string& objective, uint64_t version) {
    model::Transformer other = *model::LoadHfModel(*root_ / "rm2");
    weights::SendOptions options;
    options.version = version;
    options.model = objective;
    options.architecture = "llama";
    options.source = "test:rm2";
    return testing::SendWeightsTo(*stub_, model::ExportHfTensors(*other), options);
  }

  static fs::path* root_;
  static testing::Subprocess* process_;
  static int grpc_port_;
  static int metrics_port_;
  std::unique_ptr<v1::RewardScorer::Stub> stub_;
};

fs::path* ScorerServiceTest::root_ = nullptr;
testing::Subprocess* ScorerServiceTest::process_ = nullptr;
int ScorerServiceTest::grpc_port_ = 0;
int ScorerServiceTest::metrics_port_ = 0;

TEST_F(ScorerServiceTest, ScoresEveryObjectiveAndComposesTheReward) {
  v1::ScoreResponse response;
  grpc::Status status = Score(Request(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), 2);
  for (const v1::ScoredResponse& r : response.results()) {
    ASSERT_EQ(r.scores_size(), 3);
    EXPECT_EQ(r.scores(0).objective(), "helpfulness");
    ASSERT_TRUE(r.has_reward());
    EXPECT_NEAR(
        r.reward(),
        ScoreOf(r, "helpfulness") + 0.5 * ScoreOf(r, "sentiment") + 0.1 * ScoreOf(r, "brevity"),
        1e-4);
  }
  EXPECT_GT(ScoreOf(response.results(0), "sentiment"), 0);
  EXPECT_LT(ScoreOf(response.results(1), "sentiment"), 0);
  EXPECT_EQ(response.composition().weights_size(), 3);

  // A subset without a composed objective scores but leaves the reward unset.
  v1::ScoreRequest subset = Request();
  subset.add_objectives("sentiment");
  v1::ScoreResponse partial;
  ASSERT_TRUE(Score(subset, &partial).ok());
  EXPECT_EQ(partial.results(0).scores_size(), 1);
  EXPECT_FALSE(partial.results(0).has_reward());

  // The judge: P(first preferred) = sigmoid(reward(first) - reward(second)).
  v1::CompareRequest compare;
  v1::ComparePair* pair = compare.add_pairs();
  pair->set_id("p");
  pair->mutable_prompt()->set_text("How was it?");
  pair->mutable_first()->set_text(" a good and happy day");
  pair->mutable_second()->set_text(" a bad, terrible day");
  grpc::ClientContext context;
  v1::CompareResponse compared;
  ASSERT_TRUE(stub_->Compare(&context, compare, &compared).ok());
  const double expected =
      1 / (1 + std::exp(response.results(1).reward() - response.results(0).reward()));
  EXPECT_NEAR(compared.results(0).p_first_preferred(), expected, 1e-4);
  EXPECT_EQ(compared.judge(), "composed_reward");
}

TEST_F(ScorerServiceTest, BadRequestsAreRefusedWithAMessageAndTheServiceKeepsServing) {
  struct Case {
    std::string name;
    std::function<void(v1::ScoreRequest*)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no items", [](v1::ScoreRequest* r) { r->clear_items(); }, "no items"},
      {"unknown objective", [](v1::ScoreRequest* r) { r->add_objectives("honesty"); }, "honesty"},
      {"duplicate id", [](v1::ScoreRequest* r) { r->mutable_items(1)->set_id("item0"); }, "item0"},
      {"token id outside the vocabulary",
       [](v1::ScoreRequest* r) {
         r->mutable_items(0)->mutable_response()->clear_text();
         r->mutable_items(0)->mutable_response()->add_token_ids(4000);
       },
       "4000"},
      {"too many items",
       [](v1::ScoreRequest* r) {
         for (int i = 0; i < 15; ++i) {
           v1::ScoreItem item = r->items(0);
           item.set_id("more" + std::to_string(i));
           *r->add_items() = item;
         }
       },
       "16"},
      {"too much prompt metadata",
       [](v1::ScoreRequest* r) {
         for (int i = 0; i < 33; ++i) {
           r->mutable_items(0)->mutable_prompt()->mutable_metadata()->insert(
               {std::to_string(i), "x"});
         }
       },
       "request.items[0].prompt.metadata: 33 entries; at most 32"},
      {"prompt text far over the context",
       [](v1::ScoreRequest* r) {
         r->mutable_items(1)->mutable_prompt()->set_text(std::string(100000, 'q'));
       },
       "items[1].prompt.text: text of 100000 bytes is over the limit"},
  };
  for (const Case& c : cases) {
    v1::ScoreRequest request = Request();
    c.mutate(&request);
    v1::ScoreResponse response;
    grpc::Status status = Score(request, &response);
    EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT)
        << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    v1::ScoreResponse good;
    EXPECT_TRUE(Score(Request(), &good).ok()) << "after " << c.name;
  }
  grpc::ClientContext context;
  v1::CompareRequest compare;
  compare.set_judge("gpt-judge");
  v1::CompareResponse compared;
  grpc::Status status = stub_->Compare(&context, compare, &compared);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("unknown judge 'gpt-judge'"));
  // A 10 KB principle used to come back whole and overflow gRPC's metadata limit, so the caller
  // saw "received initial metadata size exceeds limit" instead of INVALID_ARGUMENT.
  grpc::ClientContext long_context;
  compare.set_judge("");
  compare.set_principle(std::string(10240, 'p'));
  status = stub_->Compare(&long_context, compare, &compared);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("...(10240 bytes)"));
  EXPECT_LT(status.error_message().size(), 1024u);
}

TEST_F(ScorerServiceTest, RewardModelWeightsAreReplacedByAWeightStream) {
  v1::ScoreResponse before;
  ASSERT_TRUE(Score(Request(), &before).ok());
  grpc::Status status = SendWeights("helpfulness", 2);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::ScoreResponse after;
  ASSERT_TRUE(Score(Request(), &after).ok());
  EXPECT_NE(ScoreOf(before.results(0), "helpfulness"), ScoreOf(after.results(0), "helpfulness"));
  EXPECT_EQ(ScoreOf(before.results(0), "sentiment"), ScoreOf(after.results(0), "sentiment"));
  EXPECT_EQ(SendWeights("helpfulness", 2).error_code(), grpc::ALREADY_EXISTS);
  status = SendWeights("sentiment", 3);
  EXPECT_EQ(status.error_code(), grpc::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("takes no weights"));
  status = SendWeights("honesty", 3);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);

  grpc::ClientContext context;
  v1::RewardScorerGetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(&context, v1::RewardScorerGetInfoRequest(), &info).ok());
  ASSERT_EQ(info.objectives_size(), 3);
  EXPECT_EQ(info.objectives(0).kind(), v1::OBJECTIVE_KIND_REWARD_MODEL);
  EXPECT_EQ(info.objectives(0).model().policy_version(), 2u);
  EXPECT_EQ(info.objectives(1).kind(), v1::OBJECTIVE_KIND_LEXICON);
  EXPECT_EQ(info.default_judge(), "composed_reward");
  httplib::Client http("127.0.0.1", metrics_port_);
  httplib::Result scrape = http.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_THAT(scrape->body,
              HasSubstr("plumb_scorer_objective_version{objective=\"helpfulness\"} 2"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_scorer_requests_total{rpc=\"Score\",code=\"OK\"}"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_scorer_batch_size_bucket"));
}

// The scorer's reward models swap through the same VersionedModel path as every model service, so
// a partial stream (e.g. only the reward head) replaces the tensors it names and keeps the rest.
// The old adapter rebuilt a whole model per load and refused partial streams.
TEST_F(ScorerServiceTest, APartialWeightStreamReplacesOnlyTheTensorsItNames) {
  v1::ScoreResponse before;
  ASSERT_TRUE(Score(Request(), &before).ok());
  // A reward head that neither rm1 nor rm2 (which an earlier test may have loaded) has.
  model::Transformer other = *model::LoadHfModel(*root_ / "rm2");
  const std::map<std::string, at::Tensor> head = {
      {"score.weight", model::ExportHfTensors(*other).at("score.weight") * -2.0}};
  weights::SendOptions options;
  options.version = 100;
  options.model = "helpfulness";
  options.architecture = "llama";
  options.source = "test:rm2-head";
  options.partial = true;
  v1::LoadWeightsResponse loaded;
  const grpc::Status status = testing::SendWeightsTo(*stub_, head, options, &loaded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(loaded.version(), 100u);
  EXPECT_EQ(loaded.tensors(), 1u);
  v1::ScoreResponse after;
  ASSERT_TRUE(Score(Request(), &after).ok());
  EXPECT_NE(ScoreOf(before.results(0), "helpfulness"), ScoreOf(after.results(0), "helpfulness"));
  EXPECT_EQ(ScoreOf(before.results(0), "sentiment"), ScoreOf(after.results(0), "sentiment"));
  httplib::Client http("127.0.0.1", metrics_port_);
  httplib::Result scrape = http.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_THAT(scrape->body,
              HasSubstr("plumb_scorer_objective_version{objective=\"helpfulness\"} 100"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_scorer_weight_loads_total{code=\"OK\"}"));
}

// An LM judge behind Compare and Score, over a real socket: a tiny model made by plumb-model as
// the judge, a template and a constitution from files.
TEST(ScorerLmJudgeServiceTest, ComparesAndRatesWithAnLmJudgeAndReportsIt) {
  const fs::path root = fs::path(::testing::TempDir()) / "scorer_lm_judge_test";
  ASSERT_TRUE(testing::MakeEmptyFolder(root.string()).ok());
  ASSERT_TRUE(testing::MakeTinyModel((root / "judge").string(), "--seed 3").ok());
  std::ofstream(root / "template.yaml") << "preamble: \"Prefer the answer that is {principle}\"\n"
                                           "comparison: \"{context}|{response_a}|{response_b}\"\n"
                                           "ending: \" =\"\n"
                                           "labels: [\" A\", \" B\"]\n";
  std::ofstream(root / "constitution.yaml") << "principles:\n"
                                               "  - {name: kind, text: \"kinder.\"}\n"
                                               "  - {name: brief, text: \"briefer.\"}\n";
  absl::StatusOr<testing::RunningService> service = testing::StartServiceWithYaml(
      "plumb-scorer", (root / "scorer.yaml").string(),
      "server: {address: \"127.0.0.1:0\"}\n"
      "metrics: {enabled: false}\n"
      "scorer:\n"
      "  objectives: [sentiment, judge]\n"
      "  objective_options:\n"
      "    sentiment: {kind: afinn}\n"
      "    judge: {kind: lm_judge, path: judge, template: template.yaml,\n"
      "            constitution: constitution.yaml, principle: brief}\n"
      "  composition:\n"
      "    weights: {sentiment: 1.0, judge: 0.0}\n"
      "  default_judge: judge\n");
  ASSERT_TRUE(service.ok()) << service.status();
  auto stub = v1::RewardScorer::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(service->grpc_port), grpc::InsecureChannelCredentials()));

  grpc::ClientContext info_context;
  v1::RewardScorerGetInfoResponse info;
  ASSERT_TRUE(stub->GetInfo(&info_context, {}, &info).ok());
  EXPECT_EQ(info.default_judge(), "judge");
  ASSERT_EQ(info.judges_size(), 2);
  EXPECT_EQ(info.judges(1).name(), "judge");
  EXPECT_EQ(info.judges(1).kind(), v1::JUDGE_KIND_LM);
  EXPECT_EQ(info.judges(1).principles_size(), 2);
  EXPECT_EQ(info.judges(1).default_principle(), "kind");
  EXPECT_TRUE(info.judges(1).position_debiased());
  EXPECT_EQ(info.judges(1).model().vocab_size(), 259);
  ASSERT_EQ(info.objectives_size(), 2);
  EXPECT_EQ(info.objectives(1).kind(), v1::OBJECTIVE_KIND_LM_JUDGE);

  auto compare = [&](const std::string& judge, const std::string& principle, const std::string& a,
                     const std::string& b, v1::CompareResponse* out) {
    v1::CompareRequest request;
    request.set_judge(judge);
    request.set_principle(principle);
    v1::ComparePair* pair = request.add_pairs();
    pair->set_id("p");
    pair->mutable_prompt()->set_text("How was it?");
    pair->mutable_first()->set_text(a);
    pair->mutable_second()->set_text(b);
    grpc::ClientContext context;
    return stub->Compare(&context, request, out);
  };
  v1::CompareResponse ab, ba;
  ASSERT_TRUE(compare("", "brief", " lovely", " awful, just awful", &ab).ok());
  ASSERT_TRUE(compare("", "brief", " awful, just awful", " lovely", &ba).ok());
  EXPECT_EQ(ab.judge(), "judge");
  EXPECT_EQ(ab.principle(), "brief");
  const double p = ab.results(0).p_first_preferred();
  EXPECT_GT(p, 0.0);
  EXPECT_LT(p, 1.0);
  EXPECT_NEAR(p + ba.results(0).p_first_preferred(), 1.0, 1e-5);

  v1::CompareResponse refused;
  grpc::Status status = compare("judge", "honest", " a", " b", &refused);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("principle 'honest'"));
  // The Bradley-Terry judge over the composed reward is still there.
  v1::CompareResponse composed;
  ASSERT_TRUE(compare("composed_reward", "", " lovely", " awful", &composed).ok());
  EXPECT_GT(composed.results(0).p_first_preferred(), 0.5);

  v1::ScoreRequest request;
  v1::ScoreItem* item = request.add_items();
  item->set_id("x");
  item->mutable_prompt()->set_text("How was it?");
  item->mutable_response()->set_text(" lovely");
  request.add_objectives("judge");
  grpc::ClientContext score_context;
  v1::ScoreResponse scored;
  ASSERT_TRUE(stub->Score(&score_context, request, &scored).ok());
  ASSERT_EQ(scored.results(0).scores_size(), 1);
  EXPECT_GE(scored.results(0).scores(0).value(), 0.0);
  EXPECT_LE(scored.results(0).scores(0).value(), 1.0);
  fs::remove_all(root);
}

}  // namespace
}  // namespace plumb
