#include "common/train/train_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace plumb::train {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<TrainOptions> Parse(const std::string& yaml) {
  return ParseTrainOptions(yaml, "jobs/dpo.yaml", "/data/jobs");
}

std::string ErrorOf(const std::string& yaml) {
  absl::StatusOr<TrainOptions> options = Parse(yaml);
  EXPECT_FALSE(options.ok());
  return std::string(options.status().message());
}

constexpr char kMinimal[] =
    "kind: dpo\n"
    "model: {path: models/policy}\n"
    "data: {path: pairs.jsonl, format: hh_rlhf}\n";

TEST(TrainOptionsTest, RpoAndRrhfSftWeightsAreRead) {
  absl::StatusOr<TrainOptions> options = Parse(std::string(kMinimal) + "dpo: {sft_weight: 0.5}\n");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->objective.dpo_sft_weight, 0.5);
  options = Parse(
      "kind: rrhf\nmodel: {path: m}\ndata: {path: r.jsonl, format: ranked}\n"
      "rrhf: {sft_weight: 0.25}\n");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->objective.rrhf_sft_weight, 0.25);
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "dpo: {sft_weight: -1}\n"), HasSubstr("sft_weight"));
}

TEST(TrainOptionsTest, MinimalJobGetsDefaultsAndPathsRelativeToTheFile) {
  absl::StatusOr<TrainOptions> options = Parse(kMinimal);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->objective.kind, "dpo");
  EXPECT_EQ(options->model.path, "/data/jobs/models/policy");
  EXPECT_EQ(options->tokenization.tokenizer, "/data/jobs/models/policy");
  ASSERT_EQ(options->data.files.size(), 1u);
  EXPECT_EQ(options->data.files[0], "/data/jobs/pairs.jsonl");
  EXPECT_DOUBLE_EQ(options->objective.dpo.beta, 0.1);
  EXPECT_EQ(options->training.batch_size, 8);
  EXPECT_EQ(options->schedule.kind, "cosine");
  EXPECT_EQ(options->distributed.backend, "gloo");
}

TEST(TrainOptionsTest, EverySectionIsRead) {
  absl::StatusOr<TrainOptions> options = Parse(std::string(kMinimal) +
                                               "reference: {path: /models/ref}\n"
                                               "tokenization: {tokenizer: byte, max_length: 64, "
                                               "max_prompt_length: 16}\n"
                                               "training: {steps: 5, batch_size: 4, "
                                               "micro_batch_size: 2, bf16_autocast: true}\n"
                                               "optimizer: {lr: 0.01, weight_decay: 0.1}\n"
                                               "schedule: {kind: linear, warmup_steps: 1}\n"
                                               "eval: {every: 2, max_examples: 10}\n"
                                               "checkpoint: {dir: runs/a, every: 2, keep: 1}\n"
                                               "distributed: {backend: gloo, timeout: 30s}\n"
                                               "dpo: {loss_type: ipo, beta: 0.5, "
                                               "ipo_log_ratio: mean}\n"
                                               "model2: 1\n");
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("key 'model2': unknown key"));
  options = Parse(std::string(kMinimal) +
                  "reference: {path: /models/ref}\n"
                  "tokenization: {tokenizer: byte, max_length: 64, max_prompt_length: 16}\n"
                  "training: {steps: 5, batch_size: 4, micro_batch_size: 2, bf16_autocast: true}\n"
                  "optimizer: {lr: 0.01, weight_decay: 0.1}\n"
                  "schedule: {kind: linear, warmup_steps: 1}\n"
                  "eval: {every: 2, max_examples: 10}\n"
                  "checkpoint: {dir: runs/a, every: 2, keep: 1}\n"
                  "distributed: {backend: gloo, timeout: 30s}\n"
                  "dpo: {loss_type: ipo, beta: 0.5, ipo_log_ratio: mean}\n");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(*options->reference_path, "/models/ref");
  EXPECT_EQ(options->tokenization.tokenizer, "byte");
  EXPECT_EQ(options->tokenization.max_length, 64);
  EXPECT_EQ(options->training.micro_batch_size, 2);
  EXPECT_TRUE(options->training.bf16_autocast);
  EXPECT_DOUBLE_EQ(options->optimizer.weight_decay, 0.1);
  EXPECT_EQ(options->checkpoint.dir, "/data/jobs/runs/a");
  EXPECT_EQ(options->logging.metrics_file, "/data/jobs/runs/a/metrics.jsonl");
  EXPECT_EQ(options->distributed.timeout, std::chrono::seconds(30));
  EXPECT_EQ(options->objective.dpo.loss_type, "ipo");
  EXPECT_EQ(options->objective.dpo.ipo_log_ratio, "mean");
}

TEST(TrainOptionsTest, MistakesNameTheFileLineKeyAndFix) {
  EXPECT_THAT(ErrorOf("model: {path: m}\ndata: {path: d}\n"), HasSubstr("key 'kind': is required"));
  EXPECT_THAT(ErrorOf("kind: ppo\n"), HasSubstr("jobs/dpo.yaml:1: key 'kind'"));
  EXPECT_THAT(ErrorOf("kind: sft\ndata: {path: d}\n"), HasSubstr("key 'model': is required"));
  EXPECT_THAT(ErrorOf("kind: sft\nmodel: {dtype: fp32}\ndata: {path: d}\n"),
              HasSubstr("key 'model.path': is required"));
  EXPECT_THAT(ErrorOf("kind: sft\nmodel: {path: m}\n"), HasSubstr("key 'data': is required"));
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "dpo: {label_smoothing: 0.5}\n"),
              HasSubstr("key 'dpo.label_smoothing'"));
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "kto: {beta: 0.1}\n"),
              HasSubstr("key 'kto': applies to kind 'kto', but this job's kind is 'dpo'"));
  EXPECT_THAT(ErrorOf("kind: sft\nmodel: {path: m}\ndata: {path: d}\nreference: {path: r}\n"),
              HasSubstr("kind 'sft' uses no reference model"));
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "training: {batch_size: 0}\n"),
              HasSubstr("key 'training.batch_size'"));
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "tokenization: {max_length: 8, "
                                              "max_prompt_length: 8}\n"),
              HasSubstr("must be smaller than max_length"));
  EXPECT_THAT(ErrorOf(std::string(kMinimal) + "distributed: {backend: mpi}\n"),
              HasSubstr("key 'distributed.backend'"));
}

}  // namespace
}  // namespace plumb::train

namespace plumb::train {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(TrainOptionsTest, ShippedExampleConfigsParse) {
  absl::StatusOr<TrainOptions> dpo = ReadTrainOptions("configs/train/dpo.example.yaml");
  ASSERT_TRUE(dpo.ok()) << dpo.status();
  EXPECT_EQ(dpo->objective.kind, "dpo");
  EXPECT_EQ(dpo->schedule.warmup_steps, 10);
  EXPECT_EQ(dpo->tokenization.truncation, Truncation::kLeft);
  // One example job per kind, each a valid job of its kind.
  for (const std::string kind : {"sft", "reward_model", "kto", "orpo", "simpo", "rrhf"}) {
    absl::StatusOr<TrainOptions> job = ReadTrainOptions("configs/train/" + kind + ".example.yaml");
    ASSERT_TRUE(job.ok()) << kind << ": " << job.status();
    EXPECT_EQ(job->objective.kind, kind);
  }

  // Each objective section of objectives.example.yaml, under its own kind; the written values
  // must be the defaults.
  const std::string all = ReadText("configs/train/objectives.example.yaml");
  const ObjectiveOptions defaults;
  for (const std::string kind : {"sft", "reward_model", "kto", "orpo", "simpo", "rrhf"}) {
    const size_t begin = all.find("\n" + kind + ":\n");
    ASSERT_NE(begin, std::string::npos) << kind;
    size_t end = all.find("\n\n", begin + 1);
    const std::string section = all.substr(begin + 1, end - begin - 1);
    absl::StatusOr<TrainOptions> options = ParseTrainOptions(
        "kind: " + kind + "\nmodel: {path: m}\ndata: {path: d}\n" + section + "\n", kind, ".");
    ASSERT_TRUE(options.ok()) << kind << ": " << options.status();
    const ObjectiveOptions& o = options->objective;
    EXPECT_EQ(o.sft.packing, defaults.sft.packing);
    EXPECT_EQ(o.kto.kl_average, defaults.kto.kl_average);
    EXPECT_EQ(o.kto.beta, defaults.kto.beta);
    EXPECT_EQ(o.orpo_beta, defaults.orpo_beta);
    EXPECT_EQ(o.simpo.beta, defaults.simpo.beta);
    EXPECT_EQ(o.simpo.gamma, defaults.simpo.gamma);
    EXPECT_EQ(o.rrhf.sft_reduction, defaults.rrhf.sft_reduction);
    EXPECT_EQ(o.rrhf.length_mode, defaults.rrhf.length_mode);
    EXPECT_EQ(o.reward_model.use_margin, defaults.reward_model.use_margin);
  }
}

}  // namespace
}  // namespace plumb::train
