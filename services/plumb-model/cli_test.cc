// The command line in process: parsing, help, exit codes and the one-line error contract.
// (tests/integration/plumb_model_cli_test.cc runs the real binary end to end.)
#include "services/plumb-model/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace plumb::model_tool {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

Result RunCli(std::vector<std::string> args, const std::string& stdin_text = "") {
  args.insert(args.begin(), "plumb-model");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  Result result;
  result.exit_code = RunPlumbModel(static_cast<int>(argv.size()), argv.data(), in, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

void ExpectOneErrorLine(const Result& result) {
  EXPECT_THAT(result.out, IsEmpty());
  EXPECT_THAT(result.err, StartsWith("plumb-model: "));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

TEST(CliTest, HelpOfEachSubcommandGoesToStdoutWithExitZero) {
  for (const char* command : {"init", "info", "tokenize", "sample", "logprobs"}) {
    const Result result = RunCli({command, "--help"});
    EXPECT_EQ(result.exit_code, 0) << command;
    EXPECT_THAT(result.out, HasSubstr(std::string("Usage: plumb-model ") + command));
    EXPECT_THAT(result.out, HasSubstr("--json"));
  }
}

TEST(CliTest, MissingOrUnknownSubcommandIsAUsageErrorListingTheSubcommands) {
  for (const auto& args : {std::vector<std::string>{}, std::vector<std::string>{"bogus"}}) {
    const Result result = RunCli(args);
    EXPECT_EQ(result.exit_code, 2);
    ExpectOneErrorLine(result);
    EXPECT_THAT(result.err, HasSubstr("init, info, tokenize, sample or logprobs"));
  }
  EXPECT_THAT(RunCli({"bogus"}).err, HasSubstr("unknown subcommand \"bogus\""));
}

TEST(CliTest, BadFlagIsAUsageErrorPointingAtTheSubcommandsHelp) {
  const Result unknown = RunCli({"info", "/tmp", "--colour"});
  EXPECT_EQ(unknown.exit_code, 2);
  ExpectOneErrorLine(unknown);
  EXPECT_THAT(unknown.err, HasSubstr("plumb-model info --help"));

  const Result not_a_number = RunCli({"sample", "--model", "/tmp", "--top-k", "many"});
  EXPECT_EQ(not_a_number.exit_code, 2);
  EXPECT_THAT(not_a_number.err, HasSubstr("--top-k"));

  const Result missing = RunCli({"init"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("--out"));
}

TEST(CliTest, TokenizeReadsAllOfStdinAsOneTextWhenGivenNoText) {
  const Result result = RunCli({"tokenize", "--tokenizer", "byte", "--json"}, "a\nb\n");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json json = nlohmann::json::parse(result.out);
  ASSERT_EQ(json["texts"].size(), 1u);
  EXPECT_EQ(json["texts"][0]["text"], "a\nb\n");
  EXPECT_EQ(json["texts"][0]["ids"], nlohmann::json({97, 10, 98, 10}));
}

TEST(CliTest, TokenizeNeedsExactlyOneTokenizerSource) {
  const Result neither = RunCli({"tokenize", "x"});
  EXPECT_EQ(neither.exit_code, 2);
  ExpectOneErrorLine(neither);
  EXPECT_THAT(neither.err, HasSubstr("exactly one of --model DIR and --tokenizer"));
  EXPECT_EQ(RunCli({"tokenize", "--model", "/m", "--tokenizer", "byte", "x"}).exit_code, 2);
}

TEST(CliTest, TokenizeWithSpecialRecognisesSpecialSpellings) {
  const Result plain = RunCli({"tokenize", "--tokenizer", "byte", "--json", "<eos>"});
  const Result special =
      RunCli({"tokenize", "--tokenizer", "byte", "--json", "--special", "<eos>"});
  EXPECT_EQ(nlohmann::json::parse(plain.out)["texts"][0]["ids"].size(), 5u);
  EXPECT_EQ(nlohmann::json::parse(special.out)["texts"][0]["ids"], nlohmann::json({257}));
}

TEST(CliTest, LogprobsNeedsOnePromptAndOneResponse) {
  const Result result = RunCli(
      {"logprobs", "--model", "/m", "--prompt", "a", "--prompt-ids", "1", "--response", "b"});
  EXPECT_EQ(result.exit_code, 2);
  ExpectOneErrorLine(result);
  EXPECT_THAT(result.err, HasSubstr("exactly one of --prompt TEXT and --prompt-ids IDS"));
}

}  // namespace
}  // namespace plumb::model_tool
