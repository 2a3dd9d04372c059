#include "common/logging/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

namespace plumb {
namespace {

TEST(LoggingTest, ParsesLevelAndFormat) {
  auto section = config::ConfigMap::FromString("level: debug\nformat: json\n", "log.yaml");
  ASSERT_TRUE(section.ok());
  LoggingOptions options;
  ASSERT_TRUE(ParseLoggingOptions(*section, &options).ok());
  EXPECT_EQ(options.level, "debug");
  EXPECT_EQ(options.format, "json");
}

TEST(LoggingTest, UnknownLevelIsRefusedWithTheAllowedLevels) {
  auto section = config::ConfigMap::FromString("level: verbose\n", "log.yaml");
  ASSERT_TRUE(section.ok());
  LoggingOptions options;
  EXPECT_EQ(ParseLoggingOptions(*section, &options).message(),
            "log.yaml:1: key 'level': 'verbose' is not allowed; expected one of: trace, debug, "
            "info, warn, error, off");
}

TEST(LoggingTest, InitLoggingSetsTheDefaultLoggerLevel) {
  LoggingOptions options;
  options.level = "warn";
  InitLogging(options, "plumb-test");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
  EXPECT_FALSE(spdlog::default_logger()->should_log(spdlog::level::info));
  EXPECT_TRUE(spdlog::default_logger()->should_log(spdlog::level::err));
}

TEST(LoggingTest, JsonFormatWritesOneEscapedObjectPerLine) {
  LoggingOptions options;
  options.format = "json";
  InitLogging(options, "plumb-test");
  ::testing::internal::CaptureStderr();
  spdlog::info("a \"quoted\" word\nand a second line");
  const std::string line = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(line, ::testing::StartsWith("{\"time\":\""));
  EXPECT_THAT(line, ::testing::HasSubstr(R"("level":"info","component":"plumb-test")"));
  EXPECT_THAT(line, ::testing::HasSubstr(R"("msg":"a \"quoted\" word\nand a second line"})"));
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
}

}  // namespace
}  // namespace plumb
