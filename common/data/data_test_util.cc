#include "common/data/data_test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace plumb::data::testing {

namespace {

// Removes every directory MakeTempDir made when the test binary exits.
struct TempDirs {
  ~TempDirs() {
    for (const std::string& dir : dirs) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  }
  std::vector<std::string> dirs;
};

TempDirs& MadeDirs() {
  static TempDirs dirs;
  return dirs;
}

}  // namespace

std::string MakeTempDir() {
  std::string pattern = ::testing::TempDir();
  if (pattern.empty() || pattern.back() != '/') pattern += '/';
  pattern += "plumb_data_XXXXXX";
  const char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr) << "mkdtemp failed for " << pattern;
  MadeDirs().dirs.push_back(pattern);
  return pattern;
}

void WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  EXPECT_TRUE(out.good()) << "cannot write " << path;
}

std::string PreferenceLine(int i) {
  return absl::StrCat(R"({"prompt":"p)", i, R"(","chosen":"c)", i, R"(","rejected":"r)", i,
                      R"("})");
}

std::string WritePreferenceFile(const std::string& dir, absl::string_view name, int n) {
  std::string contents;
  for (int i = 0; i < n; ++i) absl::StrAppend(&contents, PreferenceLine(i), "\n");
  const std::string path = absl::StrCat(dir, "/", name);
  WriteFile(path, contents);
  return path;
}

std::string PromptOf(const Example& example) {
  const auto* pair = std::get_if<PreferencePair>(&example.value);
  return pair == nullptr ? "" : pair->prompt;
}

std::vector<std::string> PromptsOf(const std::vector<Example>& examples) {
  std::vector<std::string> prompts;
  for (const Example& example : examples) prompts.push_back(PromptOf(example));
  return prompts;
}

}  // namespace plumb::data::testing
