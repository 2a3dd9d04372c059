#include "services/plumb-generator/generator_core.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/model/hf_checkpoint.h"
#include "common/tokenizer/byte_tokenizer.h"

namespace plumb::generator {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class GeneratorCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Per process: two runs of this binary at once must not share (and delete) one folder.
    dir_ = fs::path(::testing::TempDir()) / ("generator_core_test_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    SaveModel(dir_, /*context=*/64, /*seed=*/1);
    model_ = *weights::VersionedModel::Load(dir_.string(), {});
    std::shared_ptr<const tokenizer::Tokenizer> tok = *tokenizer::ByteTokenizer::Create();
    GeneratorLimits limits;
    limits.max_batch_size = 4;
    limits.queue_capacity = 16;
    limits.default_max_new_tokens = 8;
    core_ = *GeneratorCore::Create(model_.get(), tok, limits, &registry_);
  }
  void TearDown() override {
    core_.reset();
    fs::remove_all(dir_);
  }

  // A byte-vocabulary model of `context` positions, saved as a Hugging Face folder.
  static void SaveModel(const fs::path& dir, int64_t context, uint64_t seed,
                        int64_t hidden_size = 32) {
    model::ModelConfig config;
    config.vocab_size = 259;
    config.hidden_size = hidden_size;
    config.intermediate_size = hidden_size * 3 / 2;
    config.num_attention_heads = 4;
    config.num_key_value_heads = 2;
    config.max_position_embeddings = context;
    torch::manual_seed(seed);
    model::Transformer m(config);
    ASSERT_TRUE(model::SaveHfModel(*m, dir).ok());
  }

  static GenerateJob Job(uint64_t seed, int prompts = 2, int samples = 2) {
    GenerateJob job;
    job.request_id = "r";
    for (int i = 0; i < prompts; ++i) {
      job.prompts.push_back({absl::StrCat("p", i), std::nullopt, {256, 65 + i, 66}});
    }
    job.sampling.num_samples = samples;
    job.sampling.seed = seed;
    job.sampling.return_logprobs = true;
    return job;
  }

  absl::Status Run(GenerateJob job, std::vector<RolloutResult>* out) {
    return core_->Generate(std::move(job), [out](const RolloutResult& r) {
      out->push_back(r);
      return true;
    });
  }

  fs::path dir_;
  metrics::Registry registry_;
  std::unique_ptr<weights::VersionedModel> model_;
  std::unique_ptr<GeneratorCore> core_;
};

TEST_F(GeneratorCoreTest, ReturnsEverySampleOfEveryPromptAndIsReproducibleBySeed) {
  std::vector<RolloutResult> a, b;
  ASSERT_TRUE(Run(Job(3), &a).ok());
  ASSERT_TRUE(Run(Job(3), &b).ok());
  ASSERT_EQ(a.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].response_ids, b[i].response_ids);
    EXPECT_EQ(a[i].logprobs.size(), a[i].response_ids.size());
    EXPECT_LE(a[i].response_ids.size(), 8u);
  }
}

TEST_F(GeneratorCoreTest, ConcurrentRequestsWithDifferentSeedsGetWhatTheyGetAlone) {
  std::vector<RolloutResult> alone1, alone2, together1, together2;
  ASSERT_TRUE(Run(Job(1, 1, 2), &alone1).ok());
  ASSERT_TRUE(Run(Job(2, 1, 2), &alone2).ok());
  std::thread other([&] { EXPECT_TRUE(Run(Job(1, 1, 2), &together1).ok()); });
  EXPECT_TRUE(Run(Job(2, 1, 2), &together2).ok());
  other.join();
  ASSERT_EQ(together1.size(), 2u);
  ASSERT_EQ(together2.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(alone1[i].response_ids, together1[i].response_ids);
    EXPECT_EQ(alone2[i].response_ids, together2[i].response_ids);
  }
}

// Continuous batching: a short request that arrives while a long one decodes joins the running
// batch at the next step and finishes first (with batching per Sample() call it would wait for
// the long one to end), and still gets exactly what it gets alone.
TEST_F(GeneratorCoreTest, AShortRequestJoinsARunningBatchAndFinishesFirst) {
  // A model with room for a long request (400 new tokens, tens of milliseconds of decoding).
  const fs::path dir = dir_ / "long";
  SaveModel(dir, /*context=*/512, /*seed=*/2);
  std::unique_ptr<weights::VersionedModel> model = *weights::VersionedModel::Load(dir.string(), {});
  GeneratorLimits limits;
  limits.max_batch_size = 4;
  limits.max_new_tokens_limit = 500;
  metrics::Registry registry;
  std::unique_ptr<GeneratorCore> core =
      *GeneratorCore::Create(model.get(), *tokenizer::ByteTokenizer::Create(), limits, &registry);
  auto run = [&](const GenerateJob& job, std::vector<RolloutResult>* out) {
    return core->Generate(job, [out](const RolloutResult& r) {
      out->push_back(r);
      return true;
    });
  };
  GenerateJob short_job = Job(9, /*prompts=*/1, /*samples=*/1);
  short_job.sampling.max_new_tokens = 2;
  std::vector<RolloutResult> alone;
  ASSERT_TRUE(run(short_job, &alone).ok());

  GenerateJob long_job = Job(4, /*prompts=*/1, /*samples=*/3);
  long_job.sampling.max_new_tokens = 400;
  long_job.sampling.ignore_eos = true;
  std::atomic<int> order{0};
  int long_finished_as = 0, short_finished_as = 0;
  std::vector<RolloutResult> long_out, short_out;
  std::atomic<bool> long_done{false};
  std::thread long_thread([&] {
    EXPECT_TRUE(run(long_job, &long_out).ok());
    long_finished_as = ++order;
    long_done = true;
  });
  // Once the long request's rows are decoding, the short one arrives. (Should the long request
  // end before this thread looks, the order assertions fail rather than this loop spinning.)
  while (core->load().running_sequences < 3 && !long_done) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  ASSERT_TRUE(run(short_job, &short_out).ok());
  short_finished_as = ++order;
  long_thread.join();
  EXPECT_EQ(short_finished_as, 1);
  EXPECT_EQ(long_finished_as, 2);
  ASSERT_EQ(short_out.size(), 1u);
  EXPECT_EQ(short_out[0].response_ids, alone[0].response_ids);
  ASSERT_EQ(long_out.size(), 3u);
  for (const RolloutResult& r : long_out) EXPECT_EQ(r.response_ids.size(), 400u);
}

TEST_F(GeneratorCoreTest, AFullQueueAndBadInputsAreRefused) {
  std::vector<RolloutResult> out;
  absl::Status status = Run(Job(1, 9, 2), &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(Run(Job(1, 0, 1), &out).message()), HasSubstr("no prompts"));
  GenerateJob job = Job(1);
  job.prompts[0].token_ids[1] = 400;
  EXPECT_THAT(std::string(Run(job, &out).message()),
              HasSubstr("prompt 'p0': token 1 is id 400, outside the vocabulary [0, 259)"));
  EXPECT_TRUE(out.empty());
}

TEST_F(GeneratorCoreTest, EmitReturningFalseCancelsTheRequest) {
  int seen = 0;
  absl::Status status = core_->Generate(Job(1, 4, 1), [&seen](const RolloutResult&) {
    ++seen;
    return false;
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(seen, 1);
  std::vector<RolloutResult> out;
  EXPECT_TRUE(Run(Job(1), &out).ok());
}

TEST_F(GeneratorCoreTest, StopStringsEndTheResponseAtTheTokenThatCompletesThem) {
  // Find a seed whose response has a printable ASCII byte after its first token, then ask for
  // that byte as a stop string.
  for (uint64_t seed = 1; seed < 50; ++seed) {
    std::vector<RolloutResult> plain, stopped;
    GenerateJob job = Job(seed, 1, 1);
    job.sampling.max_new_tokens = 20;
    job.sampling.ignore_eos = true;
    ASSERT_TRUE(Run(job, &plain).ok());
    const std::vector<int64_t>& ids = plain[0].response_ids;
    size_t at = 1;
    while (at < ids.size() && !(ids[at] >= 33 && ids[at] < 127)) ++at;
    if (at == ids.size()) continue;
    bool earlier = false;
    for (size_t t = 0; t < at; ++t) earlier = earlier || ids[t] == ids[at];
    if (earlier) continue;
    job.sampling.stop_strings = {std::string(1, static_cast<char>(ids[at]))};
    ASSERT_TRUE(Run(job, &stopped).ok());
    EXPECT_EQ(stopped[0].finish, Finish::kStop);
    EXPECT_EQ(stopped[0].response_ids,
              std::vector<int64_t>(ids.begin(), ids.begin() + static_cast<int64_t>(at) + 1));
    return;
  }
  FAIL() << "no seed gave a usable response";
}

// A sequence whose logits go non-finite (here a corrupt embedding row that only its prompt
// reads) fails its own request; before, it failed every request decoding in the same batch.
TEST_F(GeneratorCoreTest, ASequenceThatFailsDoesNotFailOtherRequestsInItsBatch) {
  {
    torch::NoGradGuard no_grad;
    model_->Current()->model->embed_tokens()[200].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  GenerateJob healthy = Job(3, /*prompts=*/1, /*samples=*/1);
  healthy.sampling.max_new_tokens = 40;
  healthy.sampling.ignore_eos = true;
  std::vector<RolloutResult> alone, together, poisoned_out;
  ASSERT_TRUE(Run(healthy, &alone).ok());
  GenerateJob poisoned = Job(4, /*prompts=*/1, /*samples=*/1);
  poisoned.prompts[0].token_ids = {256, 200, 66};
  absl::Status healthy_status;
  std::atomic<bool> healthy_done{false};
  std::thread healthy_thread([&] {
    healthy_status = Run(healthy, &together);
    healthy_done = true;
  });
  // Until the healthy sequence decodes (or, on a busy machine, has already finished: this
  // waiting thread may not run for its whole life; then the two do not share a batch, and the
  // assertions still hold). Waiting for running_sequences alone could spin forever.
  while (core_->load().running_sequences < 1 && !healthy_done) {
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const absl::Status poisoned_status = Run(poisoned, &poisoned_out);
  healthy_thread.join();
  EXPECT_EQ(poisoned_status.code(), absl::StatusCode::kInternal) << poisoned_status;
  EXPECT_THAT(std::string(poisoned_status.message()), HasSubstr("prompt 'p0'"));
  EXPECT_THAT(std::string(poisoned_status.message()), HasSubstr("not finite"));
  ASSERT_TRUE(healthy_status.ok()) << healthy_status;
  ASSERT_EQ(together.size(), 1u);
  EXPECT_EQ(together[0].response_ids, alone[0].response_ids);
}

// A request the configured limits admit but whose KV cache this machine cannot allocate (here
// 256 rows x 2^31 positions: 512 TiB, past any address space) is RESOURCE_EXHAUSTED, the code a
// caller retries elsewhere or smaller; it once read INTERNAL. The runner then serves the next one.
TEST_F(GeneratorCoreTest, AKvCacheTooLargeForMemoryIsResourceExhaustedAndTheRunnerGoesOn) {
  const int64_t positions = int64_t{1} << 31;
  const fs::path dir = dir_ / "long_context";
  SaveModel(dir, /*context=*/positions + 8, /*seed=*/2, /*hidden_size=*/256);
  absl::StatusOr<std::unique_ptr<weights::VersionedModel>> model =
      weights::VersionedModel::Load(dir.string(), {});
  ASSERT_TRUE(model.ok()) << model.status();
  GeneratorLimits limits;
  limits.max_batch_size = 256;
  limits.queue_capacity = 512;
  limits.max_new_tokens_limit = std::numeric_limits<int>::max();
  metrics::Registry registry;
  absl::StatusOr<std::unique_ptr<GeneratorCore>> core =
      GeneratorCore::Create(model->get(), nullptr, limits, &registry);
  ASSERT_TRUE(core.ok()) << core.status();
  GenerateJob huge = Job(5, /*prompts=*/4, /*samples=*/64);
  huge.sampling.max_new_tokens = static_cast<int>(positions - 16);
  auto keep = [](const RolloutResult&) { return true; };
  const absl::Status status = (*core)->Generate(huge, keep);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("decoding: DefaultCPUAllocator"));
  GenerateJob small = Job(6, /*prompts=*/1, /*samples=*/1);
  small.sampling.max_new_tokens = 4;
  EXPECT_TRUE((*core)->Generate(small, keep).ok());
}

TEST_F(GeneratorCoreTest, ATemperatureBelowTheFloorIsInvalidArgument) {
  std::vector<RolloutResult> out;
  GenerateJob job = Job(1);
  job.sampling.temperature = 1e-45;
  const absl::Status status = Run(job, &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("use 0 for greedy"));
  job.sampling.temperature = 0;
  EXPECT_TRUE(Run(job, &out).ok());
}

// Tokenizing costs ~100 bytes of memory per byte of text: a text prompt that cannot fit the
// context whatever its tokens is refused by its size, before any tokenizing.
TEST_F(GeneratorCoreTest, AnOversizedTextPromptIsRefusedBeforeTokenizing) {
  std::vector<RolloutResult> out;
  GenerateJob job = Job(1, 1, 1);
  job.prompts[0].token_ids.clear();
  job.prompts[0].text = std::string(4 << 20, 'a');
  const absl::Status status = Run(job, &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("prompt 'p0': text of 4194304 bytes is over the limit of 4096 bytes"));
  // A text prompt that fits is tokenized by the common rule: BOS, then the bytes.
  job.prompts[0].text = "hi";
  ASSERT_TRUE(Run(job, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].prompt_ids, (std::vector<int64_t>{256, 'h', 'i'}));
}

// GenerateRequest.priority: with one decoding row busy, queued requests are admitted highest
// priority first, FIFO within a level, and a long-waiting low-priority request is not starved.
TEST_F(GeneratorCoreTest, QueuedRequestsAreAdmittedByPriorityThenArrivalWithAging) {
  // A wider model, so the blocking request decodes for a while on any machine; it is cancelled
  // once every request is queued.
  const fs::path dir = dir_ / "priority";
  SaveModel(dir, /*context=*/512, /*seed=*/2, /*hidden_size=*/512);
  std::unique_ptr<weights::VersionedModel> model = *weights::VersionedModel::Load(dir.string(), {});
  auto run_order = [&](int aging_ms, const std::vector<int>& priorities, int gap_ms) {
    GeneratorLimits limits;
    limits.max_batch_size = 1;
    limits.max_new_tokens_limit = 500;
    limits.priority_aging_ms = aging_ms;
    metrics::Registry registry;
    std::unique_ptr<GeneratorCore> core =
        *GeneratorCore::Create(model.get(), *tokenizer::ByteTokenizer::Create(), limits, &registry);
    GenerateJob blocker = Job(4, /*prompts=*/1, /*samples=*/1);
    blocker.sampling.max_new_tokens = 500;
    blocker.sampling.ignore_eos = true;
    std::atomic<bool> release{false}, blocker_done{false};
    std::thread blocking([&] {
      absl::Status status = core->Generate(
          blocker, [](const RolloutResult&) { return true; }, [&] { return release.load(); });
      EXPECT_EQ(status.code(), absl::StatusCode::kCancelled) << "the blocker ended too early";
      blocker_done = true;
    });
    while (core->load().running_sequences < 1 && !blocker_done) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    absl::Mutex mu;
    std::vector<int> finished;
    std::vector<std::thread> waiting;
    for (size_t i = 0; i < priorities.size(); ++i) {
      const int queued_before = core->load().queued_sequences;
      waiting.emplace_back([&, i] {
        GenerateJob job = Job(10 + i, /*prompts=*/1, /*samples=*/1);
        job.priority = priorities[i];
        // Long enough that each request's thread records its result before the next admitted
        // request can finish, even on a loaded machine: the order recorded is the admission order.
        job.sampling.max_new_tokens = 32;
        job.sampling.ignore_eos = true;
        EXPECT_TRUE(core->Generate(job,
                                   [&](const RolloutResult&) {
                                     absl::MutexLock lock(&mu);
                                     finished.push_back(static_cast<int>(i));
                                     return true;
                                   })
                        .ok());
      });
      // Each request is queued before the next arrives.
      while (core->load().queued_sequences <= queued_before) {
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(gap_ms));
    }
    release.store(true);
    for (std::thread& t : waiting) t.join();
    blocking.join();
    return finished;
  };
  // No aging within the test's time: priority first, then arrival.
  EXPECT_EQ(run_order(3600000, {0, 5, 0, 5, -3}, 0), (std::vector<int>{1, 3, 0, 2, 4}));
  // One level per millisecond waited: a -10 request queued 40 ms earlier goes before a +10 one.
  EXPECT_EQ(run_order(1, {-10, 10}, 40), (std::vector<int>{0, 1}));
}

TEST_F(GeneratorCoreTest, APriorityOutsideTheRangeIsInvalidArgument) {
  std::vector<RolloutResult> out;
  GenerateJob job = Job(1);
  job.priority = 11;
  EXPECT_THAT(std::string(Run(job, &out).message()), HasSubstr("priority 11 is outside [-10, 10]"));
}

}  // namespace
}  // namespace plumb::generator
