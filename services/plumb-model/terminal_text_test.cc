#include "services/plumb-model/terminal_text.h"

#include <gtest/gtest.h>

#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

TEST(TerminalTextTest, QuoteKeepsUtf8AndEscapesControlAndStrayBytes) {
  EXPECT_EQ(QuoteForTerminal("héllo ✓"), "\"héllo ✓\"");
  EXPECT_EQ(QuoteForTerminal("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteForTerminal("1\n2\t3\r"), "\"1\\n2\\t3\\r\"");
  EXPECT_EQ(QuoteForTerminal(std::string("\x01\x1b[31m\x7f", 7)), "\"\\x01\\x1b[31m\\x7f\"");
  EXPECT_EQ(QuoteForTerminal("\xc3"), "\"\\xc3\"");  // a truncated two-byte sequence
  EXPECT_EQ(QuoteForTerminal("\xff"
                             "a"),
            "\"\\xffa\"");
}

TEST(TerminalTextTest, JsonLineReplacesInvalidUtf8AndStaysOneLine) {
  const nlohmann::ordered_json value = {{"text", "a\xff\nb"}, {"ids", {1, 2}}};
  EXPECT_EQ(ToJsonLine(value), "{\"text\":\"a\xef\xbf\xbd\\nb\",\"ids\":[1,2]}");
}

TEST(TerminalTextTest, ThousandsSeparators) {
  EXPECT_EQ(WithThousandsSeparators(0), "0");
  EXPECT_EQ(WithThousandsSeparators(999), "999");
  EXPECT_EQ(WithThousandsSeparators(1000), "1,000");
  EXPECT_EQ(WithThousandsSeparators(125632), "125,632");
  EXPECT_EQ(WithThousandsSeparators(-1234567), "-1,234,567");
}

TEST(ToolStatusTest, UsageErrorsExitWithTwoAndOtherErrorsWithOne) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), kExitOk);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), kExitFailure);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), kExitFailure);
  EXPECT_EQ(ExitCodeFor(UsageError("x")), kExitUsage);
  const absl::Status marked = AsUsageError(absl::OutOfRangeError("too big"));
  EXPECT_EQ(ExitCodeFor(marked), kExitUsage);
  EXPECT_EQ(marked.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(marked.message(), "too big");
  EXPECT_TRUE(AsUsageError(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace plumb::model_tool
