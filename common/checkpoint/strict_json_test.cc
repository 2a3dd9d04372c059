#include "common/checkpoint/strict_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace plumb::checkpoint {
namespace {

using ::testing::HasSubstr;

std::string Error(absl::string_view text) {
  absl::StatusOr<nlohmann::json> parsed =
      ParseStrictJson(text, "f.json", absl::StatusCode::kDataLoss, "tensor name");
  EXPECT_FALSE(parsed.ok()) << text;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kDataLoss);
  return std::string(parsed.status().message());
}

TEST(StrictJsonTest, AcceptsTheSameKeyInDifferentObjects) {
  absl::StatusOr<nlohmann::json> parsed =
      ParseStrictJson(R"({"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 3}, {"k": 4}], "k": 5})",
                      "f.json", absl::StatusCode::kDataLoss);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["c"][1]["k"], 4);
}

TEST(StrictJsonTest, DuplicateKeysAreFoundAtEveryDepth) {
  EXPECT_EQ(Error(R"({"w": 1, "w": 2})"), "f.json: duplicate tensor name 'w'");
  EXPECT_EQ(Error(R"({"a": {"k": 1, "k": 2}})"), "f.json: duplicate key 'k'");
  EXPECT_EQ(Error(R"({"a": [{"k": 1}, {"j": 1, "j": 2}]})"), "f.json: duplicate key 'j'");
  // After a nested object closes, the outer object's keys are still tracked.
  EXPECT_EQ(Error(R"({"a": {"b": 1}, "c": 2, "a": 3})"), "f.json: duplicate tensor name 'a'");
}

TEST(StrictJsonTest, InvalidJsonAndNulBytesAreRefused) {
  EXPECT_THAT(Error("{\"a\": }"), HasSubstr("f.json: not valid JSON: "));
  EXPECT_THAT(Error(std::string("{}\0{}", 5)), HasSubstr("NUL byte at offset 2"));
  EXPECT_THAT(Error(""), HasSubstr("not valid JSON"));
}

TEST(StrictJsonTest, TypeNamesDistinguishIntegersFromFloats) {
  EXPECT_STREQ(JsonTypeName(nlohmann::json(3)), "integer");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(3u)), "integer");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(3.5)), "floating-point number");
  EXPECT_STREQ(JsonTypeName(nlohmann::json("x")), "string");
  EXPECT_STREQ(JsonTypeName(nlohmann::json::array()), "array");
}

}  // namespace
}  // namespace plumb::checkpoint
