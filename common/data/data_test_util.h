// Helpers shared by the plumb_data tests: scratch directories and small JSONL files.
// Thread safety: call from the test thread.
#ifndef PLUMB_COMMON_DATA_DATA_TEST_UTIL_H_
#define PLUMB_COMMON_DATA_DATA_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/data/example.h"

namespace plumb::data::testing {

// A new empty directory under the GoogleTest temp dir (mkdtemp), removed at exit.
std::string MakeTempDir();
// Writes `contents` byte for byte (binary mode).
void WriteFile(const std::string& path, absl::string_view contents);
// {"prompt":"p<i>","chosen":"c<i>","rejected":"r<i>"}
std::string PreferenceLine(int i);
// `n` PreferenceLine rows 0..n-1, one per line, written to dir/name; returns the path.
std::string WritePreferenceFile(const std::string& dir, absl::string_view name, int n);
// The prompt of a PreferencePair example ("" for other kinds).
std::string PromptOf(const Example& example);
std::vector<std::string> PromptsOf(const std::vector<Example>& examples);

}  // namespace plumb::data::testing

#endif  // PLUMB_COMMON_DATA_DATA_TEST_UTIL_H_
