#include "common/data/line_index.h"

#include <cstdio>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/data/seeded_order.h"

namespace plumb::data {
namespace {

constexpr size_t kScanChunkBytes = 1 << 20;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

absl::StatusOr<FileSummary> ScanLines(
    const std::string& path, uint32_t file_index,
    absl::FunctionRef<void(const LineLocation&, uint64_t content_hash)> visit) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open data file"));
  std::vector<char> buffer(kScanChunkBytes);
  FileSummary summary;
  // State of the line being scanned.
  uint64_t line_start = 0;
  uint64_t hash = kFnv1aBasis;
  bool blank = true;
  bool pending_cr = false;  // a '\r' not yet hashed: dropped if '\n' follows
  bool in_line = false;
  absl::Status overflow;
  auto end_line = [&]() {
    ++summary.lines;
    if (summary.lines > std::numeric_limits<uint32_t>::max()) {
      overflow =
          absl::OutOfRangeError(absl::StrCat(path, ": more than 2^32 - 1 lines; split the file"));
      return;
    }
    if (blank) {
      ++summary.blank_lines;
    } else {
      visit(LineLocation{line_start, file_index, static_cast<uint32_t>(summary.lines)}, hash);
      summary.digest = Mix64(summary.digest ^ hash) + summary.lines;
    }
    hash = kFnv1aBasis;
    blank = true;
    pending_cr = false;
    in_line = false;
  };
  uint64_t offset = 0;
  while (true) {
    const size_t got = std::fread(buffer.data(), 1, buffer.size(), file.get());
    for (size_t i = 0; i < got && overflow.ok(); ++i, ++offset) {
      const char c = buffer[i];
      if (!in_line) {
        in_line = true;
        line_start = offset;
      }
      if (c == '\n') {
        end_line();
        continue;
      }
      if (pending_cr) hash = Fnv1a(hash, "\r");
      pending_cr = c == '\r';
      if (!pending_cr) hash = Fnv1a(hash, absl::string_view(&c, 1));
      if (c != ' ' && c != '\t' && c != '\r') blank = false;
    }
    if (!overflow.ok()) return overflow;
    if (got < buffer.size()) break;
  }
  if (std::ferror(file.get())) return absl::DataLossError(absl::StrCat(path, ": read error"));
  if (in_line) end_line();  // last line without '\n'
  if (!overflow.ok()) return overflow;
  summary.bytes = offset;
  return summary;
}

LineReader::LineReader(std::vector<std::string> files)
    : files_(std::move(files)), streams_(files_.size()) {}

absl::StatusOr<std::string> LineReader::Read(const LineLocation& location) {
  if (location.file >= files_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("no data file with index ", location.file));
  }
  const std::string& path = files_[location.file];
  std::unique_ptr<std::ifstream>& stream = streams_[location.file];
  if (stream == nullptr) {
    stream = std::make_unique<std::ifstream>(path, std::ios::binary);
    if (!*stream) {
      stream.reset();
      return absl::NotFoundError(absl::StrCat(path, ": cannot open data file"));
    }
  }
  stream->clear();
  stream->seekg(static_cast<std::streamoff>(location.offset));
  std::string line;
  if (!stream->good() || !std::getline(*stream, line)) {
    return absl::DataLossError(absl::StrCat(path, ":", location.line, ": no line at byte ",
                                            location.offset,
                                            "; the file changed after it was indexed"));
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace plumb::data
