// plumb-reference end to end: the real binary on loopback (port 0) with a tiny model made by the
// real plumb-model; log-probs checked against the same model run in this process, every bad
// request refused with its code and message while the service keeps serving, weights swapped by
// a real weight stream, and /metrics scraped over HTTP.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/str_cat.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/logprobs.h"
#include "common/weights/weight_stream_sender.h"
#include "plumb/v1/reference.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/weight_stream_client.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ReferenceServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / "reference_service_test");
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    for (const char* seed : {"1", "2"}) {
      const absl::Status made = testing::MakeTinyModel(
          (*root_ / (std::string("model") + seed)).string(), std::string("--seed ") + seed);
      ASSERT_TRUE(made.ok()) << made;
    }
    absl::StatusOr<testing::RunningService> service =
        testing::StartServiceWithYaml("plumb-reference", (*root_ / "reference.yaml").string(),
                                      "server: {address: \"127.0.0.1:0\"}\n"
                                      "metrics: {address: 127.0.0.1, port: 0}\n"
                                      "reference:\n"
                                      "  model: {path: model1}\n"
                                      "  max_items_per_request: 8\n"
                                      "  max_tokens_per_request: 400\n"
                                      "  max_batch_size: 3\n");
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
    stub_ = v1::Reference::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                                       grpc::InsecureChannelCredentials()));
  }

  static v1::LogProbsRequest Request() {
    v1::LogProbsRequest request;
    const std::vector<std::pair<std::vector<int>, std::vector<int>>> items = {
        {{256, 72, 105}, {33, 10, 257}},
        {{256, 65}, {66, 67, 68, 69, 70}},
        {{256, 1, 2, 3, 4, 5, 6}, {7}},
        {{256, 100}, {101, 102}}};
    for (size_t i = 0; i < items.size(); ++i) {
      v1::LogProbsItem* item = request.add_items();
      item->set_id("item" + std::to_string(i));
      for (int id : items[i].first) item->add_prompt_token_ids(id);
      for (int id : items[i].second) item->add_response_token_ids(id);
    }
    return request;
  }

  // The log-probs of Request() computed in this process with the model folder `name`.
  static std::vector<std::vector<float>> Expected(const std::string& name) {
    model::Transformer model = *model::LoadHfModel(*root_ / name);
    std::vector<std::vector<int64_t>> prompts, responses;
    const v1::LogProbsRequest request = Request();
    for (const v1::LogProbsItem& item : request.items()) {
      prompts.emplace_back(item.prompt_token_ids().begin(), item.prompt_token_ids().end());
      responses.emplace_back(item.response_token_ids().begin(), item.response_token_ids().end());
    }
    torch::NoGradGuard no_grad;
    model::ResponseScores scores = *model::ScoreResponses(*model, prompts, responses);
    std::vector<std::vector<float>> out;
    for (size_t i = 0; i < responses.size(); ++i) {
      out.emplace_back();
      for (size_t t = 0; t < responses[i].size(); ++t) {
        out.back().push_back(scores.logprobs[i][t].item<float>());
      }
    }
    return out;
  }

  grpc::Status Call(const v1::LogProbsRequest& request, v1::LogProbsResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->LogProbs(&context, request, response);
  }

  void ExpectMatches(const v1::LogProbsResponse& response, const std::string& model_name) {
    const std::vector<std::vector<float>> expected = Expected(model_name);
    ASSERT_EQ(response.results_size(), static_cast<int>(expected.size()));
    for (size_t i = 0; i < expected.size(); ++i) {
      const v1::LogProbsResult& r = response.results(static_cast<int>(i));
      EXPECT_EQ(r.id(), "item" + std::to_string(i));
      ASSERT_EQ(r.logprobs_size(), static_cast<int>(expected[i].size()));
      double sum = 0;
      for (size_t t = 0; t < expected[i].size(); ++t) {
        EXPECT_NEAR(r.logprobs(static_cast<int>(t)), expected[i][t], 1e-4) << i << "," << t;
        sum += expected[i][t];
      }
      EXPECT_NEAR(r.sum_logprob(), sum, 1e-3);
      EXPECT_EQ(r.num_tokens(), static_cast<int>(expected[i].size()));
    }
  }

  // Streams `tensors` as `version`; `tamper` may change messages before they are written.
  grpc::Status SendWeights(const std::map<std::string, at::Tensor>& tensors, uint64_t version,
                           v1::LoadWeightsResponse* response,
                           const std::function<void(v1::WeightChunk*, int)>& tamper = {}) {
    weights::SendOptions options;
    options.version = version;
    options.architecture = "llama";
    options.source = "test";
    return testing::SendWeightsTo(*stub_, tensors, options, response, tamper);
  }

  static fs::path* root_;
  static testing::Subprocess* process_;
  static int grpc_port_;
  static int metrics_port_;
  std::unique_ptr<v1::Reference::Stub> stub_;
};

fs::path* ReferenceServiceTest::root_ = nullptr;
testing::Subprocess* ReferenceServiceTest::process_ = nullptr;
int ReferenceServiceTest::grpc_port_ = 0;
int ReferenceServiceTest::metrics_port_ = 0;

TEST_F(ReferenceServiceTest, AnswersInRequestOrderWithTheModelsLogProbs) {
  v1::LogProbsResponse response;
  grpc::Status status = Call(Request(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectMatches(response, "model1");
  EXPECT_EQ(response.reference_version(), 0u);

  v1::LogProbsRequest sums = Request();
  sums.set_sum_only(true);
  v1::LogProbsResponse sum_response;
  ASSERT_TRUE(Call(sums, &sum_response).ok());
  EXPECT_EQ(sum_response.results(1).logprobs_size(), 0);
  EXPECT_NEAR(sum_response.results(1).sum_logprob(), response.results(1).sum_logprob(), 1e-9);
}

// Text follows the one rule of common.proto: BOS + the prompt's tokens, the response's tokens
// without BOS; the ids used come back, and the log-probs are those of the same ids.
TEST_F(ReferenceServiceTest, TextItemsAreTokenizedByTheCommonRule) {
  v1::LogProbsRequest request = Request();
  request.mutable_items(0)->clear_prompt_token_ids();
  request.mutable_items(0)->set_prompt_text("Hi");
  request.mutable_items(1)->clear_response_token_ids();
  request.mutable_items(1)->set_response_text("BCDEF");
  v1::LogProbsResponse response;
  grpc::Status status = Call(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ExpectMatches(response, "model1");
  EXPECT_THAT(response.results(0).prompt_token_ids(), ::testing::ElementsAre(256, 72, 105));
  EXPECT_EQ(response.results(0).response_token_ids_size(), 0);
  EXPECT_THAT(response.results(1).response_token_ids(), ::testing::ElementsAre(66, 67, 68, 69, 70));
}

TEST_F(ReferenceServiceTest, BadRequestsAreRefusedWithAMessageAndTheServiceKeepsServing) {
  struct Case {
    std::string name;
    std::function<void(v1::LogProbsRequest*)> mutate;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty", [](v1::LogProbsRequest* r) { r->clear_items(); }, grpc::INVALID_ARGUMENT,
       "no items"},
      {"out of vocabulary",
       [](v1::LogProbsRequest* r) { r->mutable_items(1)->set_response_token_ids(2, 300); },
       grpc::INVALID_ARGUMENT,
       "item 1 ('item1'): response token 2 is id 300, outside the vocabulary [0, 259)"},
      {"negative id",
       [](v1::LogProbsRequest* r) { r->mutable_items(0)->set_prompt_token_ids(0, -1); },
       grpc::INVALID_ARGUMENT, "prompt token 0 is id -1"},
      {"empty response",
       [](v1::LogProbsRequest* r) { r->mutable_items(2)->clear_response_token_ids(); },
       grpc::INVALID_ARGUMENT, "item 2 ('item2'): empty response"},
      {"duplicate id", [](v1::LogProbsRequest* r) { r->mutable_items(3)->set_id("item0"); },
       grpc::INVALID_ARGUMENT, "duplicate id"},
      {"too many items",
       [](v1::LogProbsRequest* r) {
         for (int i = 0; i < 5; ++i) {
           v1::LogProbsItem copy = r->items(0);
           copy.set_id(absl::StrCat("extra", i));
           *r->add_items() = std::move(copy);
         }
       },
       grpc::INVALID_ARGUMENT, "9 items exceed max_items_per_request 8"},
      {"too many tokens",
       [](v1::LogProbsRequest* r) {
         for (int t = 0; t < 240; ++t) r->mutable_items(0)->add_response_token_ids(5);
         for (int t = 0; t < 200; ++t) r->mutable_items(1)->add_response_token_ids(5);
       },
       grpc::INVALID_ARGUMENT, "exceed max_tokens_per_request 400"},
      {"longer than the context",
       [](v1::LogProbsRequest* r) {
         for (int t = 0; t < 300; ++t) r->mutable_items(0)->add_response_token_ids(5);
       },
       grpc::INVALID_ARGUMENT, "exceed the context length 256"},
      {"NaN temperature", [](v1::LogProbsRequest* r) { r->set_temperature(std::nanf("")); },
       grpc::INVALID_ARGUMENT, "temperature"},
      {"temperature below the floor", [](v1::LogProbsRequest* r) { r->set_temperature(1e-45f); },
       grpc::INVALID_ARGUMENT, "temperature must be 0 (meaning 1) or a finite number >= 1e-05"},
      {"infinite temperature", [](v1::LogProbsRequest* r) { r->set_temperature(INFINITY); },
       grpc::INVALID_ARGUMENT, "request.temperature: must be finite"},
      {"ids and text", [](v1::LogProbsRequest* r) { r->mutable_items(2)->set_prompt_text("x"); },
       grpc::INVALID_ARGUMENT, "items[2].prompt: give token ids or text, not both"},
      {"text far over the context",
       [](v1::LogProbsRequest* r) {
         r->mutable_items(3)->clear_response_token_ids();
         r->mutable_items(3)->set_response_text(std::string(100000, 'z'));
       },
       grpc::INVALID_ARGUMENT, "items[3].response_text: text of 100000 bytes is over the limit"},
      {"wrong version", [](v1::LogProbsRequest* r) { r->set_expected_version(99); },
       grpc::FAILED_PRECONDITION, "the request expects 99"},
  };
  for (const Case& c : cases) {
    v1::LogProbsRequest request = Request();
    c.mutate(&request);
    v1::LogProbsResponse response;
    grpc::Status status = Call(request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    v1::LogProbsResponse good;
    EXPECT_TRUE(Call(Request(), &good).ok()) << "after " << c.name;
  }
}

TEST_F(ReferenceServiceTest, LoadWeightsSwapsVersionsAndRefusesBadStreamsKeepingTheOldOnes) {
  model::Transformer other = *model::LoadHfModel(*root_ / "model2");
  const std::map<std::string, at::Tensor> tensors = model::ExportHfTensors(*other);
  v1::LoadWeightsResponse loaded;
  grpc::Status status = SendWeights(tensors, 5, &loaded);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(loaded.version(), 5u);
  EXPECT_EQ(loaded.previous_version(), 0u);
  EXPECT_EQ(loaded.tensors(), tensors.size());
  v1::LogProbsResponse response;
  ASSERT_TRUE(Call(Request(), &response).ok());
  EXPECT_EQ(response.reference_version(), 5u);
  ExpectMatches(response, "model2");

  v1::LoadWeightsResponse ignored;
  EXPECT_EQ(SendWeights(tensors, 5, &ignored).error_code(), grpc::ALREADY_EXISTS);
  EXPECT_EQ(SendWeights(tensors, 4, &ignored).error_code(), grpc::FAILED_PRECONDITION);
  // A flipped bit in the first data chunk: DATA_LOSS, version 5 keeps serving.
  status = SendWeights(tensors, 6, &ignored, [](v1::WeightChunk* chunk, int index) {
    if (index == 1) (*chunk->mutable_tensor()->mutable_data())[0] ^= 1;
  });
  EXPECT_EQ(status.error_code(), grpc::DATA_LOSS) << status.error_message();
  std::map<std::string, at::Tensor> wrong = tensors;
  wrong["model.layers.9.mlp.up_proj.weight"] = torch::zeros({2, 2});
  status = SendWeights(wrong, 6, &ignored);
  EXPECT_EQ(status.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              HasSubstr("unknown tensor 'model.layers.9.mlp.up_proj.weight'"));
  ASSERT_TRUE(Call(Request(), &response).ok());
  EXPECT_EQ(response.reference_version(), 5u);

  // GetInfo and /metrics tell an operator what happened.
  grpc::ClientContext context;
  v1::ReferenceGetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(&context, v1::ReferenceGetInfoRequest(), &info).ok());
  EXPECT_EQ(info.model().policy_version(), 5u);
  EXPECT_EQ(info.model().weights_source(), "test");
  EXPECT_EQ(info.model().vocab_size(), 259);
  EXPECT_EQ(info.max_batch_size(), 3);
  httplib::Client http("127.0.0.1", metrics_port_);
  httplib::Result scrape = http.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_THAT(scrape->body, HasSubstr("plumb_reference_policy_version 5"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_reference_weight_loads_total{code=\"DATA_LOSS\"} 1"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_reference_logprobs_requests_total{code=\"OK\"}"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_reference_batch_size_bucket"));
}

}  // namespace
}  // namespace plumb
