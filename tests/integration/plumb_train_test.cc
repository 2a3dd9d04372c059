// plumb-train end to end: the real binary trains a tiny model (made by the real plumb-model) on
// small synthetic data written by the test, one run per objective, and the test reads the
// held-out metrics it wrote. Also: exact resume after a stop, two-rank data parallelism over
// loopback equal to one process, and the messages of bad configs and bad data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/checkpoint/sharded_checkpoint.h"
#include "tests/support/subprocess.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Json = nlohmann::json;

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line with output captured in a file.
RunResult Shell(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " >" + log.string() + " 2>&1").c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(log)};
}

// Preference data with a learnable rule: chosen responses use pleasant words, rejected ones
// unpleasant words, in random combinations (so held-out pairs are new sentences).
std::vector<std::array<std::string, 3>> MakePairs(int count, uint32_t seed) {
  static const char* kGood[] = {"sunny", "happy", "bright", "kind",
                                "calm",  "warm",  "gentle", "joyful"};
  static const char* kBad[] = {"gloomy", "angry", "dark",   "cruel",
                               "cold",   "harsh", "bitter", "grim"};
  std::mt19937 rng(seed);
  auto words = [&](const char* const* set) {
    std::string out;
    const int n = 2 + rng() % 3;
    for (int i = 0; i < n; ++i) out += std::string(" ") + set[rng() % 8];
    return out;
  };
  std::vector<std::array<std::string, 3>> pairs;
  for (int i = 0; i < count; ++i) {
    std::string prompt = "Describe day " + std::to_string(rng() % 100) + ":";
    std::string chosen = words(kGood);
    pairs.push_back({prompt, chosen, words(kBad)});
  }
  return pairs;
}

class PlumbTrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::path(::testing::TempDir()) / "plumb_train_test");
    fs::remove_all(*root_);
    fs::create_directories(*root_);
    const RunResult init =
        Shell(testing::BinaryPath("plumb-model") + " init --out " + (*root_ / "model").string() +
                  " --size tiny --seed 1 --reward-outputs 1",
              *root_ / "init.log");
    ASSERT_EQ(init.exit_code, 0) << init.output;
    std::string pairs, kto, ranked, sft;
    for (const auto& [prompt, chosen, rejected] : MakePairs(400, 7)) {
      pairs += Json{{"prompt", prompt}, {"chosen", chosen}, {"rejected", rejected}}.dump() + "\n";
      kto += Json{{"prompt", prompt}, {"completion", chosen}, {"label", true}}.dump() + "\n";
      kto += Json{{"prompt", prompt}, {"completion", rejected}, {"label", false}}.dump() + "\n";
      ranked +=
          Json{{"prompt", prompt}, {"responses", {rejected, chosen}}, {"ranks", {2, 1}}}.dump() +
          "\n";
      sft += Json{{"prompt", prompt}, {"response", chosen}}.dump() + "\n";
    }
    WriteFile(*root_ / "pairs.jsonl", pairs);
    WriteFile(*root_ / "kto.jsonl", kto);
    WriteFile(*root_ / "ranked.jsonl", ranked);
    WriteFile(*root_ / "sft.jsonl", sft);
  }
  static void TearDownTestSuite() {
    fs::remove_all(*root_);
    delete root_;
  }

  // A job file for `kind` on `data` (format `format`) writing to runs/<name>.
  static fs::path Config(const std::string& name, const std::string& kind, const std::string& data,
                         const std::string& format, const std::string& extra = "") {
    const fs::path path = *root_ / (name + ".yaml");
    WriteFile(path, "kind: " + kind +
                        "\n"
                        "model: {path: model}\n"
                        "data: {path: " +
                        data + ", format: " + format +
                        ", eval_fraction: 0.1, seed: 3}\n"
                        "training: {steps: 20, batch_size: 8, seed: 1, threads: 1}\n"
                        "optimizer: {lr: 0.001}\n"
                        "schedule: {warmup_steps: 2}\n"
                        "eval: {max_examples: 40}\n"
                        "checkpoint: {dir: runs/" +
                        name +
                        "}\n"
                        "logging: {progress: false}\n" +
                        extra);
    return path;
  }

  static RunResult Train(const fs::path& config, const std::string& args = "",
                         const std::string& env = "") {
    return Shell(
        env + " " + testing::BinaryPath("plumb-train") + " " + config.string() + " " + args,
        config.string() + ".log");
  }

  // The first and the last "eval" rows of a run's metrics file.
  static std::pair<Json, Json> EvalRows(const std::string& name) {
    std::ifstream in(*root_ / "runs" / name / "metrics.jsonl");
    std::string line;
    std::vector<Json> rows;
    while (std::getline(in, line)) {
      Json row = Json::parse(line);
      if (row["split"] == "eval") rows.push_back(row);
    }
    EXPECT_GE(rows.size(), 2u) << name;
    if (rows.size() < 2) return {};
    return {rows.front(), rows.back()};
  }

  static checkpoint::TensorMap FinalWeights(const std::string& name) {
    absl::StatusOr<checkpoint::TensorMap> tensors =
        checkpoint::ReadSafetensorsCheckpoint(*root_ / "runs" / name / "final");
    EXPECT_TRUE(tensors.ok()) << tensors.status();
    return tensors.ok() ? *std::move(tensors) : checkpoint::TensorMap{};
  }

  static fs::path* root_;
};

fs::path* PlumbTrainTest::root_ = nullptr;

TEST_F(PlumbTrainTest, SftLowersHeldOutLoss) {
  const RunResult run = Train(Config("sft", "sft", "sft.jsonl", "sft"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto [before, after] = EvalRows("sft");
  EXPECT_LT(after["loss"].get<double>(), before["loss"].get<double>() - 0.5) << before << "\n"
                                                                             << after;
  EXPECT_TRUE(fs::exists(*root_ / "runs/sft/final/config.json"));
  EXPECT_TRUE(fs::exists(*root_ / "runs/sft/final/tokenizer.json"));
}

TEST_F(PlumbTrainTest, SftLearnsWithPackingLoraBf16AutocastAndAccumulation) {
  const fs::path config = *root_ / "sft_lora.yaml";
  WriteFile(config,
            "kind: sft\n"
            "model: {path: model, lora: {rank: 4, alpha: 8, target_modules: [q_proj, v_proj, "
            "down_proj]}}\n"
            "data: {path: sft.jsonl, format: sft, eval_fraction: 0.1, seed: 3}\n"
            "training: {steps: 40, batch_size: 8, micro_batch_size: 2, bf16_autocast: true, "
            "seed: 1, threads: 1}\n"
            "optimizer: {lr: 0.02}\n"
            "eval: {max_examples: 40}\n"
            "checkpoint: {dir: runs/sft_lora}\n"
            "sft: {packing: true}\n");
  const RunResult run = Train(config);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto [before, after] = EvalRows("sft_lora");
  EXPECT_LT(after["loss"].get<double>(), before["loss"].get<double>() - 0.3) << before << "\n"
                                                                             << after;
  // The exported model has the adapters merged into plain weights; the embedding (not a LoRA
  // target) is unchanged, a targeted projection changed.
  checkpoint::TensorMap initial = *checkpoint::ReadSafetensorsCheckpoint(*root_ / "model");
  checkpoint::TensorMap tuned = FinalWeights("sft_lora");
  EXPECT_EQ(initial.size(), tuned.size());
  EXPECT_TRUE(
      at::equal(initial.at("model.embed_tokens.weight"), tuned.at("model.embed_tokens.weight")));
  EXPECT_FALSE(at::equal(initial.at("model.layers.0.self_attn.q_proj.weight"),
                         tuned.at("model.layers.0.self_attn.q_proj.weight")));
}

TEST_F(PlumbTrainTest, MicroBatchAccumulationMatchesTheWholeBatch) {
  ASSERT_EQ(Train(Config("accum_whole", "simpo", "pairs.jsonl", "preference")).exit_code, 0);
  const fs::path split = *root_ / "accum_split.yaml";
  std::string text = ReadFile(Config("accum_split", "simpo", "pairs.jsonl", "preference"));
  text.replace(text.find("batch_size: 8"), 13, "batch_size: 8, micro_batch_size: 3");
  WriteFile(split, text);
  const RunResult run = Train(split);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  checkpoint::TensorMap a = FinalWeights("accum_whole"), b = FinalWeights("accum_split");
  double worst = 0;
  for (const auto& [name, tensor] : a) {
    worst = std::max(worst, (tensor - b.at(name)).abs().max().item<double>());
  }
  // Summation order differs (3 + 3 + 2 examples vs 8), and Adam's normalised update turns the
  // last-bit differences of near-zero gradients into differences of up to a few lr-ulps.
  EXPECT_LT(worst, 5e-5);
}

TEST_F(PlumbTrainTest, RewardModelReachesNinetyPercentHeldOutAccuracy) {
  const RunResult run = Train(Config("rm", "reward_model", "pairs.jsonl", "preference"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto [before, after] = EvalRows("rm");
  EXPECT_GE(after["accuracy"].get<double>(), 0.9) << after;
  EXPECT_LT(after["loss"].get<double>(), before["loss"].get<double>());
}

TEST_F(PlumbTrainTest, RewardModelTrainsOnRankedLists) {
  const RunResult run = Train(Config("rm_ranked", "reward_model", "ranked.jsonl", "ranked"));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_GE(EvalRows("rm_ranked").second["accuracy"].get<double>(), 0.9);
}

// Each preference objective must widen the held-out log-prob margin of chosen over rejected.
struct MarginCase {
  std::string kind, data, format, extra;
};

class PreferenceObjectiveTest : public PlumbTrainTest,
                                public ::testing::WithParamInterface<MarginCase> {};

TEST_P(PreferenceObjectiveTest, RaisesHeldOutChosenOverRejectedMargin) {
  const MarginCase& c = GetParam();
  const std::string name = "margin_" + c.kind + (c.extra.empty() ? "" : "_variant");
  const RunResult run = Train(Config(name, c.kind, c.data, c.format, c.extra));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  auto [before, after] = EvalRows(name);
  const double gain = after["logp_margin"].get<double>() - before["logp_margin"].get<double>();
  EXPECT_GT(gain, 3.0) << before << "\n" << after;
}

INSTANTIATE_TEST_SUITE_P(AllObjectives, PreferenceObjectiveTest,
                         ::testing::Values(MarginCase{"dpo", "pairs.jsonl", "preference", ""},
                                           MarginCase{"dpo", "pairs.jsonl", "preference",
                                                      "dpo: {loss_type: ipo, beta: 0.05}\n"},
                                           MarginCase{"kto", "kto.jsonl", "kto", ""},
                                           MarginCase{"orpo", "pairs.jsonl", "preference", ""},
                                           MarginCase{"simpo", "pairs.jsonl", "preference", ""},
                                           MarginCase{"rrhf", "ranked.jsonl", "ranked", ""}),
                         [](const ::testing::TestParamInfo<MarginCase>& info) {
                           return info.param.kind + (info.param.extra.empty() ? "" : "_ipo");
                         });

TEST_F(PlumbTrainTest, ResumingAfterAStopGivesBitIdenticalWeights) {
  const RunResult straight = Train(Config("straight", "dpo", "pairs.jsonl", "preference"));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  const fs::path split = Config("split", "dpo", "pairs.jsonl", "preference");
  const RunResult first = Train(split, "--stop-at-step 10");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_TRUE(fs::exists(*root_ / "runs/split/step-00000010/state.json"));
  EXPECT_FALSE(fs::exists(*root_ / "runs/split/final"));
  const RunResult second = Train(split);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  checkpoint::TensorMap a = FinalWeights("straight"), b = FinalWeights("split");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_TRUE(at::equal(tensor, b.at(name))) << name;
  }
  // ... and the resumed run really trained: its weights differ from the initial model.
  absl::StatusOr<checkpoint::TensorMap> initial =
      checkpoint::ReadSafetensorsCheckpoint(*root_ / "model");
  ASSERT_TRUE(initial.ok());
  EXPECT_FALSE(at::equal(initial->at("model.norm.weight"), b.at("model.norm.weight")));
}

TEST_F(PlumbTrainTest, TwoRankDataParallelMatchesOneProcess) {
  for (const std::string kind : {"dpo", "kto"}) {
    const std::string data = kind == "kto" ? "kto.jsonl" : "pairs.jsonl";
    const std::string format = kind == "kto" ? "kto" : "preference";
    const RunResult one = Train(Config("one_" + kind, kind, data, format));
    ASSERT_EQ(one.exit_code, 0) << one.output;
    const fs::path two = Config("two_" + kind, kind, data, format);
    const std::string port = std::to_string(29000 + (getpid() % 2000));
    const std::string bin = testing::BinaryPath("plumb-train");
    const std::string env = "WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + port;
    const RunResult ranks = Shell("(" + env + " RANK=1 " + bin + " " + two.string() + " >" +
                                      two.string() + ".rank1 2>&1 & " + env + " RANK=0 " + bin +
                                      " " + two.string() + "; r0=$?; wait $!; r1=$?; " + "cat " +
                                      two.string() + ".rank1; exit $((r0 + r1)))",
                                  two.string() + ".log");
    ASSERT_EQ(ranks.exit_code, 0) << ranks.output;
    checkpoint::TensorMap a = FinalWeights("one_" + kind), b = FinalWeights("two_" + kind);
    ASSERT_EQ(a.size(), b.size());
    double worst = 0;
    for (const auto& [name, tensor] : a) {
      worst = std::max(worst, (tensor - b.at(name)).abs().max().item<double>());
    }
    EXPECT_LT(worst, 1e-5) << kind;
    checkpoint::TensorMap initial = *checkpoint::ReadSafetensorsCheckpoint(*root_ / "model");
    EXPECT_GT((initial.at("lm_head.weight") - b.at("lm_head.weight")).abs().max().item<double>(),
              1e-4)
        << kind << ": training changed nothing";
  }
}

// Examples over tokenization.max_length used to be cut silently; now every cut is counted in the
// metrics and the summary, and truncation: error refuses the example naming its file and line.
TEST_F(PlumbTrainTest, TruncationIsCountedOrRefused) {
  auto job = [&](const std::string& name, const std::string& truncation) {
    const fs::path config = *root_ / (name + ".yaml");
    WriteFile(config,
              "kind: sft\nmodel: {path: model}\n"
              "tokenization: {max_length: 12, max_prompt_length: 4, truncation: " +
                  truncation +
                  "}\n"
                  "data: {path: sft.jsonl, format: sft, seed: 3}\n"
                  "training: {steps: 2, batch_size: 8, seed: 1, threads: 1}\n"
                  "checkpoint: {dir: runs/" +
                  name + "}\nlogging: {progress: true}\n");
    return Train(config);
  };
  const RunResult counted = job("cut", "left");
  ASSERT_EQ(counted.exit_code, 0) << counted.output;
  EXPECT_THAT(counted.output, HasSubstr("16 training sequences, "));
  EXPECT_THAT(counted.output, HasSubstr("with the prompt truncated"));
  std::ifstream in(*root_ / "runs/cut/metrics.jsonl");
  std::string line, last;
  while (std::getline(in, line)) last = line;
  const Json row = Json::parse(last);
  EXPECT_EQ(row["data/sequences"].get<double>(), 16.0);
  EXPECT_GT(
      row["data/truncated_prompts"].get<double>() + row["data/truncated_responses"].get<double>(),
      0.0);
  const RunResult refused = job("refuse", "error");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr("sft.jsonl:"));
  EXPECT_THAT(refused.output, HasSubstr("over tokenization.max_length 12"));
}

TEST_F(PlumbTrainTest, MalformedDataLineStopsWithFileAndLine) {
  const std::string good = ReadFile(*root_ / "pairs.jsonl");
  size_t cut = 0;
  for (int line = 0; line < 20; ++line) cut = good.find('\n', cut) + 1;
  WriteFile(*root_ / "bad.jsonl", good.substr(0, cut) + "{\"prompt\": \"p\", \"chosen\": \"c\"}\n");
  const RunResult run = Train(Config("bad", "dpo", "bad.jsonl", "preference"));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("bad.jsonl:21: "));
  EXPECT_THAT(run.output, HasSubstr("'rejected'"));
}

TEST_F(PlumbTrainTest, SkippedMalformedLinesAreCountedAndReported) {
  WriteFile(*root_ / "some_bad.jsonl", ReadFile(*root_ / "pairs.jsonl") +
                                           "not json\n{\"prompt\": \"p\", \"chosen\": \"c\"}\n");
  const fs::path config = *root_ / "skip.yaml";
  WriteFile(config,
            "kind: dpo\nmodel: {path: model}\n"
            "data: {path: some_bad.jsonl, format: preference, on_malformed: skip}\n"
            "training: {steps: 60, batch_size: 8, threads: 1}\n"
            "checkpoint: {dir: runs/skip}\n");
  const RunResult run = Train(config);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // 60 steps x 8 examples cover the 402 lines more than once: each bad line is met every epoch.
  EXPECT_THAT(run.output, HasSubstr("malformed lines skipped (invalid_json: "));
  EXPECT_THAT(run.output, HasSubstr("missing_field: "));
  EXPECT_THAT(run.output, HasSubstr("skipped " + (*root_ / "some_bad.jsonl").string() + ":401: "));
  std::ifstream in(*root_ / "runs/skip/metrics.jsonl");
  std::string line, last;
  while (std::getline(in, line)) last = line;
  EXPECT_GE(Json::parse(last)["data/lines_skipped"].get<double>(), 2.0);
}

TEST_F(PlumbTrainTest, ConfigErrorsNameTheFileKeyAndFix) {
  const fs::path typo = *root_ / "typo.yaml";
  WriteFile(typo, "kind: dpo\nmodel: {path: model}\ndata: {path: pairs.jsonl}\ntraning: {}\n");
  RunResult run = Train(typo);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output,
              HasSubstr("typo.yaml:4: key 'traning': unknown key; did you mean 'training'?"));

  const fs::path other = Config("other", "sft", "sft.jsonl", "sft", "dpo: {beta: 0.2}\n");
  run = Train(other);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output,
              HasSubstr("key 'dpo': applies to kind 'dpo', but this job's kind is 'sft'"));

  const fs::path kind = *root_ / "kind.yaml";
  WriteFile(kind, "kind: ppo_offline\nmodel: {path: model}\ndata: {path: pairs.jsonl}\n");
  run = Train(kind);
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.output, HasSubstr("key 'kind'"));
  EXPECT_THAT(run.output, HasSubstr("sft"));

  // A data format that does not fit the kind.
  run = Train(Config("mismatch", "kto", "pairs.jsonl", "preference"));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("kind 'kto' trains on unpaired"));
}

TEST_F(PlumbTrainTest, ACorruptCheckpointIsRefused) {
  const fs::path config = Config("corrupt", "sft", "sft.jsonl", "sft");
  ASSERT_EQ(Train(config, "--stop-at-step 3").exit_code, 0);
  const fs::path weights = *root_ / "runs/corrupt/step-00000003/weights.pt";
  std::string bytes = ReadFile(weights);
  bytes[bytes.size() / 2] ^= 0x40;
  WriteFile(weights, bytes);
  const RunResult run = Train(config);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.output, HasSubstr("weights.pt: checksum"));
  EXPECT_THAT(run.output, HasSubstr("corrupt"));
}

}  // namespace
}  // namespace plumb
