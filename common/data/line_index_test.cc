#include "common/data/line_index.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/data/data_test_util.h"
#include "common/data/seeded_order.h"

namespace plumb::data {
namespace {

using testing::MakeTempDir;
using testing::WriteFile;

struct Scanned {
  std::vector<LineLocation> lines;
  std::vector<uint64_t> hashes;
  FileSummary summary;
};

Scanned Scan(const std::string& path) {
  Scanned scanned;
  absl::StatusOr<FileSummary> summary =
      ScanLines(path, 3, [&](const LineLocation& location, uint64_t hash) {
        scanned.lines.push_back(location);
        scanned.hashes.push_back(hash);
      });
  EXPECT_TRUE(summary.ok()) << summary.status();
  if (summary.ok()) scanned.summary = *summary;
  return scanned;
}

TEST(ScanLinesTest, RecordsOffsetsAndLineNumbersOfNonBlankLines) {
  const std::string path = MakeTempDir() + "/a.jsonl";
  WriteFile(path, "ab\n\n  \t\ncd\r\n\r\nef");  // the last line has no newline
  const Scanned scanned = Scan(path);
  ASSERT_EQ(scanned.lines.size(), 3u);
  EXPECT_EQ(scanned.lines[0].offset, 0u);
  EXPECT_EQ(scanned.lines[0].line, 1u);
  EXPECT_EQ(scanned.lines[0].file, 3u);
  EXPECT_EQ(scanned.lines[1].offset, 8u);
  EXPECT_EQ(scanned.lines[1].line, 4u);
  EXPECT_EQ(scanned.lines[2].offset, 14u);
  EXPECT_EQ(scanned.lines[2].line, 6u);
  EXPECT_EQ(scanned.summary.bytes, 16u);
  EXPECT_EQ(scanned.summary.lines, 6u);
  EXPECT_EQ(scanned.summary.blank_lines, 3u);
  EXPECT_EQ(scanned.hashes[0], Fnv1a(kFnv1aBasis, "ab"));
  EXPECT_EQ(scanned.hashes[1], Fnv1a(kFnv1aBasis, "cd"));  // CRLF hashes like LF
}

TEST(ScanLinesTest, ACarriageReturnInsideALineIsPartOfItsContent) {
  const std::string path = MakeTempDir() + "/a.jsonl";
  WriteFile(path, "a\rb\n");
  EXPECT_EQ(Scan(path).hashes.at(0), Fnv1a(kFnv1aBasis, "a\rb"));
}

TEST(ScanLinesTest, EmptyFileHasNoLinesAndAMissingFileIsNotFound) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/empty.jsonl", "");
  const Scanned scanned = Scan(dir + "/empty.jsonl");
  EXPECT_TRUE(scanned.lines.empty());
  EXPECT_EQ(scanned.summary.lines, 0u);
  absl::StatusOr<FileSummary> missing =
      ScanLines(dir + "/nope.jsonl", 0, [](const LineLocation&, uint64_t) {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), dir + "/nope.jsonl: cannot open data file");
}

TEST(ScanLinesTest, DigestChangesWhenALineChangesButNotItsLength) {
  const std::string dir = MakeTempDir();
  WriteFile(dir + "/a.jsonl", "line one\nline two\n");
  WriteFile(dir + "/b.jsonl", "line one\nline tw0\n");
  EXPECT_NE(Scan(dir + "/a.jsonl").summary.digest, Scan(dir + "/b.jsonl").summary.digest);
}

TEST(LineReaderTest, ReadsMegabyteLinesBackByOffsetAcrossScanChunks) {
  // Lines longer than the 1 MiB scan chunk: the index holds offsets only, never text.
  const std::string path = MakeTempDir() + "/long.jsonl";
  std::string contents;
  std::vector<std::string> lines;
  for (int i = 0; i < 5; ++i) {
    lines.push_back(absl::StrCat("{\"text\":\"", std::string(1'100'000 + i, 'a' + i), "\"}"));
    absl::StrAppend(&contents, lines.back(), i % 2 == 0 ? "\r\n" : "\n");
  }
  WriteFile(path, contents);
  const Scanned scanned = Scan(path);
  ASSERT_EQ(scanned.lines.size(), 5u);
  LineReader reader({"unused0", "unused1", "unused2", path});
  for (int i : {4, 0, 3, 1, 2}) {
    absl::StatusOr<std::string> line = reader.Read(scanned.lines[i]);
    ASSERT_TRUE(line.ok()) << line.status();
    EXPECT_EQ(*line, lines[i]) << "line " << i;
  }
}

TEST(LineReaderTest, AnOffsetPastTheEndOfAShrunkFileIsDataLoss) {
  const std::string path = MakeTempDir() + "/a.jsonl";
  WriteFile(path, "first\nsecond\n");
  LineReader reader({path});
  ASSERT_EQ(*reader.Read(LineLocation{6, 0, 2}), "second");
  WriteFile(path, "first\n");
  absl::StatusOr<std::string> line = reader.Read(LineLocation{6, 0, 2});
  EXPECT_EQ(line.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(line.status().message(),
            path + ":2: no line at byte 6; the file changed after it was indexed");
}

TEST(LineReaderTest, AMissingFileIsNotFound) {
  LineReader reader({"/nonexistent/x.jsonl"});
  EXPECT_EQ(reader.Read(LineLocation{0, 0, 1}).status().message(),
            "/nonexistent/x.jsonl: cannot open data file");
}

}  // namespace
}  // namespace plumb::data
