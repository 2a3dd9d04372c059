// The subcommands in process on a tiny model (the binary is covered by
// tests/integration/plumb_model_cli_test.cc): tokenizer copies, info warnings, --bos, empty
// responses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/checkpoint/hf_config.h"
#include "common/tokenizer/load_tokenizer.h"
#include "services/plumb-model/info_command.h"
#include "services/plumb-model/init_command.h"
#include "services/plumb-model/logprobs_command.h"
#include "services/plumb-model/sample_command.h"
#include "services/plumb-model/tokenizer_files.h"
#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

fs::path FreshFolder(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("plumb_model_commands_" + name);
  fs::remove_all(dir);
  return dir;
}

fs::path InitTinyModel(const std::string& name, const std::string& tokenizer = "byte") {
  InitOptions options;
  options.out = FreshFolder(name).string();
  options.tokenizer = tokenizer;
  options.layers = 1;
  absl::StatusOr<CommandOutput> output = RunInit(options);
  EXPECT_TRUE(output.ok()) << output.status();
  return options.out;
}

TEST(CommandsTest, InitCopiesATokenizerJsonWithItsConfigFromAnotherModel) {
  const fs::path first = InitTinyModel("copy_source");
  const fs::path second = InitTinyModel("copy_target", (first / "tokenizer.json").string());
  EXPECT_TRUE(fs::exists(second / "tokenizer.json"));
  EXPECT_TRUE(fs::exists(second / "tokenizer_config.json"));
  auto loaded = tokenizer::LoadTokenizer(second.string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->eos_id(), 257);  // the role came with tokenizer_config.json
}

TEST(CommandsTest, InitRefusesToReplaceTheTokenizerItCopiesFrom) {
  const fs::path model = InitTinyModel("self_copy");
  InitOptions options;
  options.out = model.string();
  options.tokenizer = model.string();
  options.force = true;
  absl::StatusOr<CommandOutput> output = RunInit(options);
  ASSERT_FALSE(output.ok());
  EXPECT_TRUE(IsUsageError(output.status()));
  EXPECT_THAT(output.status().message(), HasSubstr("is inside --out"));
  EXPECT_TRUE(CheckTokenizerSourceOutside("byte", model).ok());
}

TEST(CommandsTest, InitReportsWhatItWrote) {
  InitOptions options;
  options.out = FreshFolder("report").string();
  options.seed = 3;
  options.reward_outputs = 2;
  absl::StatusOr<CommandOutput> output = RunInit(options);
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ(output->json["parameters"], 125'632);
  EXPECT_EQ(output->json["config"]["num_reward_outputs"], 2);
  EXPECT_THAT(output->json["files"], ElementsAre("config.json", "model.safetensors",
                                                 "tokenizer.json", "tokenizer_config.json"));
  EXPECT_THAT(output->text, HasSubstr("125,632 parameters (seed 3)"));
}

TEST(CommandsTest, InfoWarnsWhenConfigJsonDisagreesWithTheWeights) {
  const fs::path model = InitTinyModel("mismatch");
  absl::StatusOr<model::ModelConfig> config = checkpoint::ReadHfConfig(model / "config.json");
  ASSERT_TRUE(config.ok());
  config->vocab_size = 200;  // fewer ids than the tokenizer and the embeddings have
  ASSERT_TRUE(checkpoint::WriteHfConfig(model / "config.json", *config).ok());
  absl::StatusOr<CommandOutput> info = RunInfo({.dir = model.string()});
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->json["warnings"].size(), 2u);
  EXPECT_THAT(info->json["warnings"][0].get<std::string>(), HasSubstr("config.json implies"));
  EXPECT_THAT(info->json["warnings"][1].get<std::string>(), HasSubstr("259 ids"));
  EXPECT_THAT(info->text, HasSubstr("warning: "));
}

TEST(CommandsTest, InfoWithoutWeightsSaysWhatIsMissing) {
  const fs::path model = InitTinyModel("no_weights");
  fs::remove(model / "model.safetensors");
  absl::StatusOr<CommandOutput> info = RunInfo({.dir = model.string()});
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(ExitCodeFor(info.status()), kExitFailure);
  EXPECT_THAT(info.status().message(), HasSubstr("no weights (model.safetensors"));
}

TEST(CommandsTest, SampleWithBosStartsTextPromptsWithTheBosId) {
  const fs::path model = InitTinyModel("bos");
  SampleOptions options;
  options.model = model.string();
  options.prompts = {{.text = ""}, {.text = "hi"}};
  options.bos = true;
  options.sampling.max_new_tokens = 2;
  absl::StatusOr<CommandOutput> output = RunSample(options);
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_EQ(output->json["prompts"][0]["ids"], nlohmann::ordered_json({256}));
  EXPECT_EQ(output->json["prompts"][1]["ids"], nlohmann::ordered_json({256, 'h', 'i'}));
  EXPECT_EQ(output->json["samples"].size(), 2u);

  options.bos = false;
  absl::StatusOr<CommandOutput> empty = RunSample(options);
  ASSERT_FALSE(empty.ok());
  EXPECT_TRUE(IsUsageError(empty.status()));
  EXPECT_THAT(empty.status().message(), HasSubstr("--bos"));
}

TEST(CommandsTest, LogprobsOfAnEmptyResponseSumToZero) {
  const fs::path model = InitTinyModel("empty_response");
  LogprobsOptions options;
  options.model = model.string();
  options.prompt = {.text = "x"};
  options.response = {.text = ""};
  absl::StatusOr<CommandOutput> output = RunLogprobs(options);
  ASSERT_TRUE(output.ok()) << output.status();
  EXPECT_THAT(output->json["tokens"], IsEmpty());
  EXPECT_EQ(output->json["sum"], 0.0);
  EXPECT_THAT(output->text, HasSubstr("sum 0.0000 over 0 tokens"));
}

TEST(CommandsTest, BadRuntimeFlagsAreUsageErrorsBeforeAnythingLoads) {
  SampleOptions options;
  options.model = InitTinyModel("runtime").string();
  options.prompts = {{.ids = {1}}};
  options.runtime.dtype = "float16";
  absl::StatusOr<CommandOutput> output = RunSample(options);
  ASSERT_FALSE(output.ok());
  EXPECT_TRUE(IsUsageError(output.status()));
  EXPECT_THAT(output.status().message(), HasSubstr("expected float32 or bfloat16"));
}

}  // namespace
}  // namespace plumb::model_tool
