#include "services/plumb-model/id_list.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/plumb-model/tool_status.h"

namespace plumb::model_tool {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(IdListTest, ParsesCommaSeparatedIdsWithSpaces) {
  EXPECT_THAT(*ParseIdList("1,2,3", "--prompt-ids"), ElementsAre(1, 2, 3));
  EXPECT_THAT(*ParseIdList(" 7 , 8 ", "--prompt-ids"), ElementsAre(7, 8));
  EXPECT_THAT(*ParseIdList("-1", "--prompt-ids"), ElementsAre(-1));
  EXPECT_THAT(*ParseIdList("", "--response-ids"), IsEmpty());
}

TEST(IdListTest, MalformedEntryIsAUsageErrorNamingTheFlagAndEntry) {
  for (const char* bad : {"1,,2", "1,x", "1.5", "1 2", "99999999999999999999"}) {
    absl::StatusOr<std::vector<int64_t>> ids = ParseIdList(bad, "--prompt-ids");
    ASSERT_FALSE(ids.ok()) << bad;
    EXPECT_TRUE(IsUsageError(ids.status()));
    EXPECT_THAT(ids.status().message(), HasSubstr("--prompt-ids"));
  }
  EXPECT_THAT(ParseIdList("1,x", "--response-ids").status().message(),
              HasSubstr("\"x\" is not an integer"));
}

TEST(IdListTest, FormatReadsBackThroughParse) {
  const std::vector<int64_t> ids = {0, 258, 50256};
  EXPECT_EQ(FormatIdList(ids), "0,258,50256");
  EXPECT_EQ(*ParseIdList(FormatIdList(ids), "--prompt-ids"), ids);
}

}  // namespace
}  // namespace plumb::model_tool
