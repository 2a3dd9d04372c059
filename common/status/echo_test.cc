#include "common/status/echo.h"

#include <gtest/gtest.h>

#include <string>

namespace plumb {
namespace {

TEST(EchoTest, QuotesShortValuesUnchanged) { EXPECT_EQ(Echo("policy-7"), "\"policy-7\""); }

TEST(EchoTest, EscapesControlAndNonAsciiBytes) {
  EXPECT_EQ(Echo(std::string("a\nb\"\\\xff", 6)), "\"a\\x0ab\\x22\\x5c\\xff\"");
}

TEST(EchoTest, TakesAnotherQuoteCharacter) {
  EXPECT_EQ(Echo("q.weight", 128, '\''), "'q.weight'");
  EXPECT_EQ(Echo("it's", 128, '\''), "'it\\x27s'");
}

TEST(EchoTest, CutsLongValuesAndSaysHowLongTheyWere) {
  const std::string big(10240, 'x');
  EXPECT_EQ(Echo(big, 4), "\"xxxx\"...(10240 bytes)");
  EXPECT_LT(Echo(big).size(), 200u);
}

}  // namespace
}  // namespace plumb
