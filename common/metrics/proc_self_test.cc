#include "common/metrics/proc_self.h"

#include <gtest/gtest.h>

#include <chrono>

namespace plumb::metrics {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A real stat line (proc(5) fields 1..52) whose command name holds a space and a ')'.
constexpr char kStatLine[] =
    "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 "
    "250 75 0 0 20 0 9 0 123456 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 "
    "17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

TEST(ProcSelfTest, StatFieldsAreCountedFromTheLastParenthesis) {
  absl::StatusOr<ProcStat> stat = ParseProcStat(kStatLine);
  ASSERT_TRUE(stat.ok()) << stat.status();
  EXPECT_EQ(stat->user_ticks, 250u);
  EXPECT_EQ(stat->system_ticks, 75u);
  EXPECT_EQ(stat->start_ticks, 123456u);
  EXPECT_EQ(stat->virtual_memory_bytes, 987654321u);
  EXPECT_EQ(stat->resident_pages, 2048u);
}

TEST(ProcSelfTest, ATruncatedStatLineIsInvalidArgument) {
  absl::StatusOr<ProcStat> stat = ParseProcStat("4242 (x) S 1 4242 4242 0 -1 4194560 1000 0 0");
  EXPECT_EQ(stat.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(stat.status().message(), "/proc/self/stat: field 14 is missing or not a number");
  EXPECT_EQ(ParseProcStat("no parenthesis").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProcSelfTest, BootTimeComesFromTheBtimeLine) {
  EXPECT_EQ(ParseBootTimeSeconds("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n").value(),
            1700000000);
  EXPECT_EQ(ParseBootTimeSeconds("cpu  1 2 3\n").status().message(), "/proc/stat: no btime line");
  EXPECT_EQ(ParseBootTimeSeconds("btime soon\n").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcSelfTest, ThisProcessHasSaneResourceUsage) {
  absl::StatusOr<ProcessSample> sample = ReadProcessSample();
  ASSERT_TRUE(sample.ok()) << sample.status();
  EXPECT_GT(sample->resident_memory_bytes, 1e5);
  EXPECT_GE(sample->virtual_memory_bytes, sample->resident_memory_bytes);
  EXPECT_GE(sample->cpu_seconds, 0);
  // The test binary started moments ago; btime has one-second resolution.
  EXPECT_LE(sample->start_time_seconds, NowSeconds() + 1);
  EXPECT_GT(sample->start_time_seconds, NowSeconds() - 600);
  EXPECT_GE(sample->open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GE(sample->max_fds, sample->open_fds);
}

}  // namespace
}  // namespace plumb::metrics
