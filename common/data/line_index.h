// Line-addressed access to JSONL files that may not fit in memory: one streaming pass records
// where every non-blank line starts (16 bytes per line, never the text), and a LineReader later
// reads any one line back by seeking to its offset.
//
// Thread safety: ScanLines is reentrant; a LineReader is used by one thread.
#ifndef PLUMB_COMMON_DATA_LINE_INDEX_H_
#define PLUMB_COMMON_DATA_LINE_INDEX_H_

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace plumb::data {

// Where one non-blank line starts.
struct LineLocation {
  uint64_t offset = 0;  // byte offset of the line's first byte
  uint32_t file = 0;    // index into the reader's file list
  uint32_t line = 0;    // 1-based line number in that file (blank lines count)
};
static_assert(sizeof(LineLocation) == 16, "the index must stay at 16 bytes per line");

// What one scan saw of a file; feeds the resume fingerprint.
struct FileSummary {
  uint64_t bytes = 0;
  uint64_t lines = 0;        // all lines, blank ones included
  uint64_t blank_lines = 0;  // empty or only spaces, tabs and '\r'
  uint64_t digest = 0;       // combines the content hashes of the non-blank lines, in order
};

// Streams `path` once in fixed-size chunks and calls visit(location, content_hash) for every
// non-blank line; content_hash is Fnv1a of the line without its '\n' and trailing '\r' (so CRLF
// and LF files hash alike). Errors: NOT_FOUND when the file cannot be opened, OUT_OF_RANGE past
// 2^32 - 1 lines.
absl::StatusOr<FileSummary> ScanLines(
    const std::string& path, uint32_t file_index,
    absl::FunctionRef<void(const LineLocation&, uint64_t content_hash)> visit);

// Reads single lines by location; keeps one open stream per file.
class LineReader {
 public:
  explicit LineReader(std::vector<std::string> files);

  // The line at `location`, without '\n' and one trailing '\r'. DATA_LOSS when the file has
  // changed so that no line starts there any more (it ended early).
  absl::StatusOr<std::string> Read(const LineLocation& location);

  const std::vector<std::string>& files() const { return files_; }

 private:
  std::vector<std::string> files_;
  std::vector<std::unique_ptr<std::ifstream>> streams_;
};

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_LINE_INDEX_H_
