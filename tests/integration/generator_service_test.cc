// plumb-generator end to end: the real binary on loopback (port 0) with a tiny model made by the
// real plumb-model; rollouts checked against the model core sampling in this process with the same
// seeds, bad requests refused with their code and message while the service keeps serving, a full
// queue refused, and weights swapped by a real weight stream while a request is in flight (which
// finishes on the version it started with).
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/model/hf_checkpoint.h"
#include "common/model/sampler.h"
#include "common/weights/weight_stream_sender.h"
#include "plumb/v1/generator.grpc.pb.h"
#include "tests/support/service_process.h"
#include "tests/support/weight_stream_client.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class GeneratorServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / "generator_service_test");
    ASSERT_TRUE(testing::MakeEmptyFolder(root_->string()).ok());
    for (const char* seed : {"1", "2"}) {
      const absl::Status made = testing::MakeTinyModel(
          (*root_ / (std::string("model") + seed)).string(), std::string("--seed ") + seed);
      ASSERT_TRUE(made.ok()) << made;
    }
    absl::StatusOr<testing::RunningService> service = testing::StartServiceWithYaml(
        "plumb-generator", (*root_ / "generator.yaml").string(),
        "server: {address: \"127.0.0.1:0\", stream_idle_timeout: 1s}\n"
        "metrics: {address: 127.0.0.1, port: 0}\n"
        "generator:\n"
        "  model: {path: model1}\n"
        "  max_prompts_per_request: 8\n"
        "  max_num_samples: 4\n"
        "  default_max_new_tokens: 12\n"
        "  max_new_tokens_limit: 200\n"
        "  max_batch_size: 8\n"
        "  queue_capacity: 24\n");
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
    stub_ = v1::Generator::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                                       grpc::InsecureChannelCredentials()));
  }

  static v1::GenerateRequest Request(uint64_t seed = 5) {
    v1::GenerateRequest request;
    request.set_request_id("req");
    v1::Prompt* ids = request.add_prompts();
    ids->set_id("ids");
    for (int id : {256, 72, 101, 108, 108, 111}) ids->mutable_token_ids()->add_ids(id);
    v1::Prompt* text = request.add_prompts();
    text->set_id("text");
    text->set_text("Once upon a time");
    request.mutable_sampling()->set_num_samples(3);
    request.mutable_sampling()->set_seed(seed);
    request.mutable_sampling()->set_return_logprobs(true);
    request.mutable_sampling()->set_top_k(50);
    return request;
  }

  grpc::Status Generate(const v1::GenerateRequest& request, std::vector<v1::Rollout>* out) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    std::unique_ptr<grpc::ClientReader<v1::Rollout>> reader = stub_->Generate(&context, request);
    v1::Rollout rollout;
    while (reader->Read(&rollout)) out->push_back(rollout);
    return reader->Finish();
  }

  grpc::Status SendWeights(const std::string& model_name, uint64_t version) {
    model::Transformer other = *model::LoadHfModel(*root_ / model_name);
    weights::SendOptions options;
    options.version = version;
    options.architecture = "llama";
    options.source = "test:" + model_name;
    return testing::SendWeightsTo(*stub_, model::ExportHfTensors(*other), options);
  }

  static fs::path* root_;
  static testing::Subprocess* process_;
  static int grpc_port_;
  static int metrics_port_;
  std::unique_ptr<v1::Generator::Stub> stub_;
};

fs::path* GeneratorServiceTest::root_ = nullptr;
testing::Subprocess* GeneratorServiceTest::process_ = nullptr;
int GeneratorServiceTest::grpc_port_ = 0;
int GeneratorServiceTest::metrics_port_ = 0;

TEST_F(GeneratorServiceTest, StreamsEverySampleAsTheModelCoreSamplesIt) {
  std::vector<v1::Rollout> rollouts;
  grpc::Status status = Generate(Request(), &rollouts);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(rollouts.size(), 6u);
  std::set<std::pair<std::string, int>> seen;
  model::Transformer model = *model::LoadHfModel(*root_ / "model1");
  for (const v1::Rollout& r : rollouts) {
    EXPECT_TRUE(seen.insert({r.prompt_id(), r.sample_index()}).second);
    EXPECT_EQ(r.request_id(), "req");
    EXPECT_EQ(r.generator_id(), "127.0.0.1:" + std::to_string(grpc_port_));
    EXPECT_EQ(r.policy_version(), 0u);
    EXPECT_GE(r.response_token_ids_size(), 1);
    EXPECT_EQ(r.logprobs_size(), r.response_token_ids_size());
    // The same prompt sampled in this process with the request's seed gives the same tokens.
    model::SamplingOptions options;
    options.num_samples = 3;
    options.seed = 5;
    options.top_k = 50;
    options.max_new_tokens = 12;
    options.stop_token_ids = {257};  // the byte tokenizer's EOS
    std::vector<int64_t> prompt(r.prompt_token_ids().begin(), r.prompt_token_ids().end());
    if (r.prompt_id() == "text") {
      EXPECT_EQ(prompt.front(), 256);  // BOS added to text prompts
      EXPECT_EQ(prompt.size(), 1 + std::string("Once upon a time").size());
    }
    torch::NoGradGuard no_grad;
    std::vector<model::SampledSequence> expected = *model::Sample(*model, {prompt}, options);
    const model::SampledSequence& e = expected[r.sample_index()];
    EXPECT_EQ(std::vector<int64_t>(r.response_token_ids().begin(), r.response_token_ids().end()),
              e.tokens);
    for (int t = 0; t < r.logprobs_size(); ++t) EXPECT_NEAR(r.logprobs(t), e.logprobs[t], 1e-4);
    EXPECT_EQ(r.finish_reason(), e.finish_reason == model::FinishReason::kStop
                                     ? v1::FINISH_REASON_STOP
                                     : v1::FINISH_REASON_LENGTH);
  }
  // Same seed, same rollouts; concurrent requests get what they would alone.
  std::vector<v1::Rollout> a, b;
  std::thread other([&] { EXPECT_TRUE(Generate(Request(), &a).ok()); });
  EXPECT_TRUE(Generate(Request(), &b).ok());
  other.join();
  for (auto* run : {&a, &b}) {
    ASSERT_EQ(run->size(), 6u);
    for (const v1::Rollout& r : *run) {
      for (const v1::Rollout& first : rollouts) {
        if (first.prompt_id() == r.prompt_id() && first.sample_index() == r.sample_index()) {
          EXPECT_EQ(first.response_token_ids_size(), r.response_token_ids_size());
          EXPECT_EQ(first.response_text(), r.response_text());
        }
      }
    }
  }
}

TEST_F(GeneratorServiceTest, MinNewTokensHoldsStopTokensBackUntilTheMinimum) {
  v1::GenerateRequest request = Request();
  request.mutable_sampling()->set_temperature(0);
  request.mutable_sampling()->set_num_samples(1);
  request.mutable_sampling()->set_max_new_tokens(8);
  std::vector<v1::Rollout> free_run;
  ASSERT_TRUE(Generate(request, &free_run).ok());
  // Every prompt's first greedy token becomes a stop token: each row would end at once.
  for (const v1::Rollout& r : free_run) {
    request.mutable_sampling()->add_stop_token_ids(r.response_token_ids(0));
  }
  request.mutable_sampling()->set_ignore_eos(true);
  std::vector<v1::Rollout> stopped, held;
  ASSERT_TRUE(Generate(request, &stopped).ok());
  for (const v1::Rollout& r : stopped) EXPECT_EQ(r.response_token_ids_size(), 1);
  request.mutable_sampling()->set_min_new_tokens(5);
  ASSERT_TRUE(Generate(request, &held).ok());
  ASSERT_EQ(held.size(), free_run.size());
  for (const v1::Rollout& r : held) EXPECT_GE(r.response_token_ids_size(), 5);
}

TEST_F(GeneratorServiceTest, BadRequestsAreRefusedWithAMessageAndTheServiceKeepsServing) {
  struct Case {
    std::string name;
    std::function<void(v1::GenerateRequest*)> mutate;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no prompts", [](v1::GenerateRequest* r) { r->clear_prompts(); }, grpc::INVALID_ARGUMENT,
       "no prompts"},
      {"out of vocabulary",
       [](v1::GenerateRequest* r) { r->mutable_prompts(0)->mutable_token_ids()->set_ids(1, 999); },
       grpc::INVALID_ARGUMENT, "prompt 'ids': token 1 is id 999, outside the vocabulary [0, 259)"},
      {"empty token ids",
       [](v1::GenerateRequest* r) { r->mutable_prompts(0)->mutable_token_ids()->clear_ids(); },
       grpc::INVALID_ARGUMENT, "prompt 'ids' has no tokens"},
      {"duplicate id", [](v1::GenerateRequest* r) { r->mutable_prompts(1)->set_id("ids"); },
       grpc::INVALID_ARGUMENT, "duplicate id"},
      {"too many samples",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->set_num_samples(5); },
       grpc::INVALID_ARGUMENT, "num_samples 5 is outside [1, 4]"},
      {"too long", [](v1::GenerateRequest* r) { r->mutable_sampling()->set_max_new_tokens(251); },
       grpc::INVALID_ARGUMENT, "max_new_tokens 251 is outside [0, 200]"},
      {"over the context",
       [](v1::GenerateRequest* r) {
         r->mutable_sampling()->set_max_new_tokens(200);
         for (int i = 0; i < 60; ++i) r->mutable_prompts(0)->mutable_token_ids()->add_ids(5);
       },
       grpc::INVALID_ARGUMENT, "exceed the context length 256"},
      {"top_p zero", [](v1::GenerateRequest* r) { r->mutable_sampling()->set_top_p(0); },
       grpc::INVALID_ARGUMENT, "top_p must be in (0, 1]"},
      {"NaN temperature",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->set_temperature(std::nanf("")); },
       grpc::INVALID_ARGUMENT, "temperature"},
      {"temperature below the floor",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->set_temperature(1e-45f); },
       grpc::INVALID_ARGUMENT, "use 0 for greedy"},
      {"infinite top_p", [](v1::GenerateRequest* r) { r->mutable_sampling()->set_top_p(INFINITY); },
       grpc::INVALID_ARGUMENT, "request.sampling.top_p: must be finite"},
      {"priority out of range", [](v1::GenerateRequest* r) { r->set_priority(11); },
       grpc::INVALID_ARGUMENT, "request.priority: 11 is outside [-10, 10]"},
      {"metadata value too long",
       [](v1::GenerateRequest* r) {
         r->mutable_prompts(0)->mutable_metadata()->insert({"source", std::string(2000, 's')});
       },
       grpc::INVALID_ARGUMENT, "request.prompts[0].metadata[\"source\"]: value of 2000 bytes"},
      {"text far over the context",
       [](v1::GenerateRequest* r) { r->mutable_prompts(1)->set_text(std::string(1 << 20, 'a')); },
       grpc::INVALID_ARGUMENT, "prompt 'text': text of 1048576 bytes is over the limit of 8192"},
      {"min_new_tokens over max_new_tokens",
       [](v1::GenerateRequest* r) {
         r->mutable_sampling()->set_max_new_tokens(4);
         r->mutable_sampling()->set_min_new_tokens(5);
       },
       grpc::INVALID_ARGUMENT, "min_new_tokens 5 is outside [0, max_new_tokens = 4]"},
      {"stop token out of range",
       [](v1::GenerateRequest* r) { r->mutable_sampling()->add_stop_token_ids(259); },
       grpc::INVALID_ARGUMENT, "stop token id 259"},
      {"future version", [](v1::GenerateRequest* r) { r->set_min_policy_version(1000); },
       grpc::FAILED_PRECONDITION, "below the requested minimum 1000"},
      {"queue full",
       [](v1::GenerateRequest* r) {
         r->mutable_sampling()->set_num_samples(4);
         for (int i = 0; i < 5; ++i) {
           v1::Prompt* p = r->add_prompts();
           p->set_id(absl::StrCat("more", i));
           p->mutable_token_ids()->add_ids(65);
         }
       },
       grpc::RESOURCE_EXHAUSTED, "the generator is full"},
  };
  for (const Case& c : cases) {
    v1::GenerateRequest request = Request();
    c.mutate(&request);
    std::vector<v1::Rollout> rollouts;
    grpc::Status status = Generate(request, &rollouts);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_TRUE(rollouts.empty()) << c.name;
    std::vector<v1::Rollout> good;
    EXPECT_TRUE(Generate(Request(), &good).ok()) << "after " << c.name;
  }
}

TEST_F(GeneratorServiceTest, NewWeightsServeNewRequestsWhileTheRequestInFlightKeepsItsVersion) {
  std::vector<v1::Rollout> before;
  ASSERT_TRUE(Generate(Request(), &before).ok());
  // A long request (8 prompts x 1 sample x 180 tokens) is admitted on version 0...
  v1::GenerateRequest slow = Request(9);
  slow.clear_prompts();
  slow.mutable_sampling()->set_num_samples(1);
  slow.mutable_sampling()->set_max_new_tokens(180);
  slow.mutable_sampling()->set_ignore_eos(true);
  for (int i = 0; i < 8; ++i) {
    v1::Prompt* p = slow.add_prompts();
    p->set_id(absl::StrCat("slow", i));
    p->mutable_token_ids()->add_ids(256);
    p->mutable_token_ids()->add_ids(65 + i);
  }
  std::vector<v1::Rollout> in_flight;
  grpc::Status slow_status;
  std::thread runner([&] { slow_status = Generate(slow, &in_flight); });
  for (int i = 0; i < 500; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GeneratorGetInfoResponse info;
    ASSERT_TRUE(stub_->GetInfo(&context, v1::GeneratorGetInfoRequest(), &info).ok());
    if (info.active_requests() > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // ... then new weights arrive and commit while it runs: the generator never stops serving.
  grpc::Status loaded = SendWeights("model2", 3);
  ASSERT_TRUE(loaded.ok()) << loaded.error_message();
  std::vector<v1::Rollout> after;
  ASSERT_TRUE(Generate(Request(), &after).ok());
  runner.join();
  ASSERT_TRUE(slow_status.ok()) << slow_status.error_message();
  ASSERT_EQ(in_flight.size(), 8u);
  for (const v1::Rollout& r : in_flight) {
    EXPECT_EQ(r.policy_version(), 0u);
    EXPECT_EQ(r.response_token_ids_size(), 180);
  }
  ASSERT_EQ(after.size(), 6u);
  int differing = 0;
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].policy_version(), 3u);
    for (const v1::Rollout& b : before) {
      if (b.prompt_id() == after[i].prompt_id() && b.sample_index() == after[i].sample_index() &&
          b.response_token_ids().size() == after[i].response_token_ids().size() &&
          std::equal(b.response_token_ids().begin(), b.response_token_ids().end(),
                     after[i].response_token_ids().begin())) {
        continue;
      }
      if (b.prompt_id() == after[i].prompt_id() && b.sample_index() == after[i].sample_index()) {
        ++differing;
      }
    }
  }
  EXPECT_GE(differing, 4) << "new weights, same seeds: most samples should change";

  grpc::ClientContext context;
  v1::GeneratorGetInfoResponse info;
  ASSERT_TRUE(stub_->GetInfo(&context, v1::GeneratorGetInfoRequest(), &info).ok());
  EXPECT_EQ(info.model().policy_version(), 3u);
  EXPECT_EQ(info.model().weights_source(), "test:model2");
  EXPECT_EQ(info.model().eos_token_id(), 257);
  EXPECT_EQ(info.queue_capacity(), 24);
  // ServerInfo: what ServiceHost recorded when it started listening.
  EXPECT_EQ(info.server().endpoint(), "127.0.0.1:" + std::to_string(grpc_port_));
  EXPECT_EQ(info.server().max_message_bytes(), 4 << 20);
  EXPECT_FALSE(info.server().build_version().empty());
  EXPECT_GT(info.server().start_time().seconds(), 0);
  httplib::Client http("127.0.0.1", metrics_port_);
  httplib::Result scrape = http.Get("/metrics");
  ASSERT_TRUE(scrape);
  EXPECT_THAT(scrape->body, HasSubstr("plumb_generator_policy_version 3"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_generator_requests_total{code=\"OK\"}"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_generator_generated_tokens_total"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_generator_time_to_first_rollout_seconds_bucket"));
  EXPECT_THAT(scrape->body, HasSubstr("plumb_generator_weight_loads_total{code=\"OK\"} 1"));
}

// A sender that opens a weight stream and goes silent used to hold the generator's one-load claim
// forever (every later publish ABORTED); non-finite weights used to load with status OK.
TEST_F(GeneratorServiceTest, ASilentWeightSenderIsCutOffAndNonFiniteWeightsAreRefused) {
  model::Transformer other = *model::LoadHfModel(*root_ / "model2");
  std::map<std::string, at::Tensor> tensors = model::ExportHfTensors(*other);
  weights::SendOptions options;
  options.version = 4;
  options.architecture = "llama";
  std::vector<v1::WeightChunk> messages;
  ASSERT_TRUE(weights::SendWeightStream(tensors, options, [&](const v1::WeightChunk& c) {
                messages.push_back(c);
                return true;
              }).ok());
  grpc::ClientContext silent_context;
  silent_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::LoadWeightsResponse silent_response;
  std::unique_ptr<grpc::ClientWriter<v1::WeightChunk>> silent =
      stub_->LoadWeights(&silent_context, &silent_response);
  ASSERT_TRUE(silent->Write(messages[0]));                       // the manifest, then nothing
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // > stream_idle_timeout (1s)
  grpc::Status good = SendWeights("model1", 4);
  EXPECT_TRUE(good.ok()) << good.error_message();
  silent->WritesDone();
  EXPECT_FALSE(silent->Finish().ok());

  tensors.begin()->second.view(-1)[0] = std::numeric_limits<float>::quiet_NaN();
  options.version = 5;
  grpc::Status poisoned = testing::SendWeightsTo(*stub_, tensors, options);
  EXPECT_EQ(poisoned.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(poisoned.error_message(), HasSubstr("non-finite values"));
  std::vector<v1::Rollout> rollouts;
  ASSERT_TRUE(Generate(Request(), &rollouts).ok());
  for (const v1::Rollout& r : rollouts) EXPECT_EQ(r.policy_version(), 4u);
}

}  // namespace
}  // namespace plumb
