#include "common/checkpoint/hf_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"

namespace plumb::checkpoint {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

// The shape of a real Llama config.json (TinyLlama-1.1B), trimmed of keys Plumb ignores.
constexpr char kLlamaConfig[] = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 2048,
  "initializer_range": 0.02,
  "intermediate_size": 5632,
  "max_position_embeddings": 2048,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 22,
  "num_key_value_heads": 4,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "rope_theta": 10000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.35.0",
  "use_cache": true,
  "vocab_size": 32000
})";

nlohmann::json LlamaJson() { return nlohmann::json::parse(kLlamaConfig); }

absl::StatusOr<model::ModelConfig> Parse(const nlohmann::json& config) {
  return ParseHfConfig(config.dump(), "ckpt/config.json");
}

// Expects `code` and a message naming the file and containing `fragment`.
void ExpectError(const nlohmann::json& config, absl::StatusCode code, const std::string& fragment) {
  absl::StatusOr<model::ModelConfig> parsed = Parse(config);
  ASSERT_FALSE(parsed.ok()) << config.dump();
  EXPECT_EQ(parsed.status().code(), code) << parsed.status();
  EXPECT_THAT(std::string(parsed.status().message()),
              AllOf(HasSubstr("ckpt/config.json"), HasSubstr(fragment)));
}

TEST(HfConfigTest, ReadsEveryFieldOfALlamaConfig) {
  absl::StatusOr<model::ModelConfig> config = Parse(LlamaJson());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->vocab_size, 32000);
  EXPECT_EQ(config->hidden_size, 2048);
  EXPECT_EQ(config->intermediate_size, 5632);
  EXPECT_EQ(config->num_hidden_layers, 22);
  EXPECT_EQ(config->num_attention_heads, 32);
  EXPECT_EQ(config->num_key_value_heads, 4);
  EXPECT_EQ(config->max_position_embeddings, 2048);
  EXPECT_EQ(config->rms_norm_eps, 1e-5);
  EXPECT_EQ(config->rope_theta, 10000.0);
  EXPECT_FALSE(config->tie_word_embeddings);
  EXPECT_EQ(config->num_reward_outputs, 0);
}

TEST(HfConfigTest, OptionalKeysTakeTheirDefaultsWhenAbsentOrNull) {
  nlohmann::json json = LlamaJson();
  json.erase("num_key_value_heads");
  json.erase("rope_theta");
  json["tie_word_embeddings"] = nullptr;
  absl::StatusOr<model::ModelConfig> config = Parse(json);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->num_key_value_heads, 32);  // = num_attention_heads
  EXPECT_EQ(config->rope_theta, 10000.0);
  EXPECT_FALSE(config->tie_word_embeddings);
}

TEST(HfConfigTest, WriteThenReadRoundTripsEveryField) {
  model::ModelConfig config;
  config.vocab_size = 515;
  config.hidden_size = 96;
  config.intermediate_size = 250;
  config.num_hidden_layers = 3;
  config.num_attention_heads = 6;
  config.num_key_value_heads = 2;
  config.max_position_embeddings = 4096;
  config.rms_norm_eps = 1.0000000000000001e-06;
  config.rope_theta = 500000.0;
  config.tie_word_embeddings = true;
  config.num_reward_outputs = 2;
  const std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "hf_config_round_trip.config.json";
  ASSERT_TRUE(WriteHfConfig(path, config).ok());
  absl::StatusOr<model::ModelConfig> read = ReadHfConfig(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->vocab_size, config.vocab_size);
  EXPECT_EQ(read->hidden_size, config.hidden_size);
  EXPECT_EQ(read->intermediate_size, config.intermediate_size);
  EXPECT_EQ(read->num_hidden_layers, config.num_hidden_layers);
  EXPECT_EQ(read->num_attention_heads, config.num_attention_heads);
  EXPECT_EQ(read->num_key_value_heads, config.num_key_value_heads);
  EXPECT_EQ(read->max_position_embeddings, config.max_position_embeddings);
  EXPECT_EQ(read->rms_norm_eps, config.rms_norm_eps);  // bit-exact through JSON
  EXPECT_EQ(read->rope_theta, config.rope_theta);
  EXPECT_EQ(read->tie_word_embeddings, config.tie_word_embeddings);
  EXPECT_EQ(read->num_reward_outputs, config.num_reward_outputs);
}

TEST(HfConfigTest, WrittenConfigIsALlamaForCausalLmThatHuggingFaceCanLoad) {
  model::ModelConfig config;
  const nlohmann::json json = nlohmann::json::parse(FormatHfConfig(config));
  EXPECT_EQ(json["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(json["model_type"], "llama");
  EXPECT_EQ(json["hidden_act"], "silu");
  EXPECT_EQ(json["num_key_value_heads"], config.num_key_value_heads);
  EXPECT_FALSE(json.contains("plumb_num_reward_outputs"));  // only written when there is a head
  config.num_reward_outputs = 3;
  EXPECT_EQ(nlohmann::json::parse(FormatHfConfig(config))["plumb_num_reward_outputs"], 3);
  EXPECT_FALSE(nlohmann::json::parse(FormatHfConfig(config)).contains("plumb_reward_readout"));
}

TEST(HfConfigTest, TheRewardReadoutRoundTripsAndALastTokenConfigOmitsIt) {
  model::ModelConfig config;
  config.num_reward_outputs = 1;
  config.reward_readout = model::RewardReadout::kResponseMean;
  const std::string text = FormatHfConfig(config);
  EXPECT_EQ(nlohmann::json::parse(text)["plumb_reward_readout"], "response_mean");
  absl::StatusOr<model::ModelConfig> back = ParseHfConfig(text, "config.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->reward_readout, model::RewardReadout::kResponseMean);
  nlohmann::json json = LlamaJson();
  json["plumb_reward_readout"] = "last_token";
  back = ParseHfConfig(json.dump(), "config.json");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->reward_readout, model::RewardReadout::kLastToken);
  EXPECT_EQ(ParseHfConfig(LlamaJson().dump(), "config.json")->reward_readout,
            model::RewardReadout::kLastToken);
}

TEST(HfConfigTest, WritingAnInvalidConfigIsRefusedAndWritesNothing) {
  model::ModelConfig config;
  config.num_attention_heads = 5;  // does not divide hidden_size 128
  const std::filesystem::path path =
      std::filesystem::path(::testing::TempDir()) / "hf_config_invalid.config.json";
  std::filesystem::remove(path);
  const absl::Status status = WriteHfConfig(path, config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("num_attention_heads"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(HfConfigTest, MistralIsAcceptedWhenItsSlidingWindowNeverApplies) {
  nlohmann::json json = LlamaJson();
  json["model_type"] = "mistral";
  json["sliding_window"] = nullptr;
  EXPECT_TRUE(Parse(json).ok());
  json["sliding_window"] = 2048;  // = max_position_embeddings
  EXPECT_TRUE(Parse(json).ok());
  json["sliding_window"] = 1024;
  ExpectError(json, absl::StatusCode::kUnimplemented,
              "\"sliding_window\": 1024 is shorter than max_position_embeddings (2048)");
}

TEST(HfConfigTest, Qwen2IsUnimplementedBecauseItNeedsAttentionBiases) {
  nlohmann::json json = LlamaJson();
  json["model_type"] = "qwen2";
  ExpectError(json, absl::StatusCode::kUnimplemented, "Qwen2 has biases on its q/k/v projections");
}

TEST(HfConfigTest, OtherModelTypesAreUnimplemented) {
  nlohmann::json json = LlamaJson();
  json["model_type"] = "gpt2";
  ExpectError(json, absl::StatusCode::kUnimplemented,
              "model_type \"gpt2\" is not supported; supported: llama, mistral");
}

TEST(HfConfigTest, OptionsThatWouldChangeTheNetworkAreUnimplemented) {
  const std::pair<const char*, nlohmann::json> cases[] = {
      {"attention_bias", true}, {"mlp_bias", true},
      {"hidden_act", "gelu"},   {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}},
      {"head_dim", 128},
  };
  for (const auto& [key, value] : cases) {
    SCOPED_TRACE(key);
    nlohmann::json json = LlamaJson();
    json[key] = value;
    ExpectError(json, absl::StatusCode::kUnimplemented, absl::StrCat("\"", key, "\""));
  }
  nlohmann::json json = LlamaJson();
  json["head_dim"] = 64;  // = 2048 / 32: consistent, accepted
  EXPECT_TRUE(Parse(json).ok());
}

TEST(HfConfigTest, MissingRequiredKeysAreNamed) {
  for (const char* key :
       {"model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
        "num_attention_heads", "max_position_embeddings", "rms_norm_eps"}) {
    SCOPED_TRACE(key);
    nlohmann::json json = LlamaJson();
    json.erase(key);
    ExpectError(json, absl::StatusCode::kInvalidArgument,
                absl::StrCat("missing required key \"", key, "\""));
  }
}

TEST(HfConfigTest, WrongJsonTypesAreNamedWithTheKeyAndValue) {
  const std::tuple<const char*, nlohmann::json, const char*> cases[] = {
      {"hidden_size", "2048", "key \"hidden_size\" is a string (\"2048\"), expected an integer"},
      {"num_hidden_layers", 22.5, "key \"num_hidden_layers\" is a floating-point number"},
      {"rms_norm_eps", "1e-5", "key \"rms_norm_eps\" is a string"},
      {"tie_word_embeddings", 0,
       "key \"tie_word_embeddings\" is a integer (0), expected true or false"},
      {"model_type", 7, "key \"model_type\" is a integer"},
      {"vocab_size", nullptr, "required key \"vocab_size\" is null"},
      {"vocab_size", 18446744073709551615u, "key \"vocab_size\" is out of range"},
      {"plumb_num_reward_outputs", -1, "key \"plumb_num_reward_outputs\" must be >= 0"},
      {"plumb_reward_readout", "mean", "key \"plumb_reward_readout\" is \"mean\"; expected"},
      {"plumb_reward_readout", 1, "key \"plumb_reward_readout\" is a integer"},
  };
  for (const auto& [key, value, message] : cases) {
    SCOPED_TRACE(key);
    nlohmann::json json = LlamaJson();
    json[key] = value;
    ExpectError(json, absl::StatusCode::kInvalidArgument, message);
  }
}

TEST(HfConfigTest, InconsistentValuesAreReportedByModelConfigValidate) {
  nlohmann::json json = LlamaJson();
  json["num_key_value_heads"] = 5;
  ExpectError(json, absl::StatusCode::kInvalidArgument,
              "num_attention_heads 32 is not a multiple of num_key_value_heads 5");
  json = LlamaJson();
  json["hidden_size"] = 0;
  ExpectError(json, absl::StatusCode::kInvalidArgument, "hidden_size must be positive");
}

TEST(HfConfigTest, MalformedFilesAreRefused) {
  EXPECT_THAT(std::string(ParseHfConfig("{", "c.json").status().message()),
              AllOf(HasSubstr("c.json"), HasSubstr("not valid JSON")));
  EXPECT_THAT(std::string(ParseHfConfig("[1]", "c.json").status().message()),
              HasSubstr("c.json: is a JSON array, expected an object"));
  EXPECT_THAT(
      std::string(
          ParseHfConfig(R"({"hidden_size": 1, "hidden_size": 2})", "c.json").status().message()),
      HasSubstr("duplicate key 'hidden_size'"));
  const absl::Status missing = ReadHfConfig("/nonexistent/config.json").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("/nonexistent/config.json"));
}

// A 100,000-deep array as a value once crashed `plumb-model info` (a recursive dump() in the
// error message ran out of stack): depth is bounded while parsing.
TEST(HfConfigTest, DeeplyNestedValuesAreRefusedWhileParsing) {
  std::string text = kLlamaConfig;
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  text.replace(text.find("32000"), 5, deep);
  const absl::Status status = ParseHfConfig(text, "c.json").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("c.json: not valid JSON: nested deeper than 64 arrays/objects"));
}

TEST(HfConfigTest, ValuesRepeatedInErrorsAreBounded) {
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 100'000; ++i) many.push_back(i);
  for (const nlohmann::json& value :
       {nlohmann::json(std::string(1 << 20, 'x')), many, nlohmann::json({{"type", many}})}) {
    nlohmann::json json = LlamaJson();
    json["vocab_size"] = value;
    json["rope_scaling"] = value;
    const absl::Status status = Parse(json).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_LT(status.message().size(), 400u) << status.message().substr(0, 400);
  }
  nlohmann::json json = LlamaJson();
  json["model_type"] = std::string(1 << 20, 'm');
  EXPECT_LT(Parse(json).status().message().size(), 400u);
}

}  // namespace
}  // namespace plumb::checkpoint
