#include "common/json/parse_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"

namespace plumb::json_input {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const JsonParseOptions kStrict = {.source = "f.json",
                                  .error_code = absl::StatusCode::kDataLoss,
                                  .reject_duplicate_keys = true,
                                  .top_level_key_noun = "tensor name"};

std::string Error(absl::string_view text, const JsonParseOptions& options = kStrict) {
  absl::StatusOr<nlohmann::json> parsed = ParseJson(text, options);
  EXPECT_FALSE(parsed.ok()) << text;
  EXPECT_EQ(parsed.status().code(), options.error_code);
  return std::string(parsed.status().message());
}

std::string Nested(int depth) {
  return absl::StrCat(std::string(depth, '['), std::string(depth, ']'));
}

TEST(ParseJsonTest, BuildsTheSameDocumentAsNlohmann) {
  const std::string text =
      R"({"a": [1, -2, 3.5, true, null, "s\u00e9", {"b": [], "c": {}}], "d": 18446744073709551615})";
  absl::StatusOr<nlohmann::json> parsed = ParseJson(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, nlohmann::json::parse(text));
  EXPECT_TRUE((*parsed)["d"].is_number_unsigned());
  EXPECT_EQ(*ParseJson("7"), nlohmann::json(7));
}

TEST(ParseJsonTest, AcceptsTheSameKeyInDifferentObjects) {
  absl::StatusOr<nlohmann::json> parsed =
      ParseJson(R"({"a": {"k": 1}, "b": {"k": 2}, "c": [{"k": 3}, {"k": 4}], "k": 5})", kStrict);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["c"][1]["k"], 4);
}

TEST(ParseJsonTest, DuplicateKeysAreFoundAtEveryDepthWhenRefused) {
  EXPECT_EQ(Error(R"({"w": 1, "w": 2})"), "f.json: duplicate tensor name 'w'");
  EXPECT_EQ(Error(R"({"a": {"k": 1, "k": 2}})"), "f.json: duplicate key 'k'");
  EXPECT_EQ(Error(R"({"a": [{"k": 1}, {"j": 1, "j": 2}]})"), "f.json: duplicate key 'j'");
  // After a nested object closes, the outer object's keys are still tracked.
  EXPECT_EQ(Error(R"({"a": {"b": 1}, "c": 2, "a": 3})"), "f.json: duplicate tensor name 'a'");
}

TEST(ParseJsonTest, DuplicateKeysKeepTheLastValueWhenAllowed) {
  absl::StatusOr<nlohmann::json> parsed = ParseJson(R"({"w": {"x": 1}, "w": [2]})");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ((*parsed)["w"], nlohmann::json::array({2}));
}

TEST(ParseJsonTest, InvalidJsonAndNulBytesAreRefused) {
  EXPECT_THAT(Error("{\"a\": }"), StartsWith("f.json: not valid JSON: "));
  EXPECT_THAT(Error(std::string("{}\0{}", 5)), HasSubstr("NUL byte at offset 2"));
  EXPECT_THAT(Error(""), HasSubstr("not valid JSON"));
  EXPECT_THAT(Error("[1] [2]"), HasSubstr("not valid JSON"));
}

TEST(ParseJsonTest, ParseErrorsQuoteABoundedPartOfTheInput) {
  // nlohmann's message quotes the whole bad token: here a 1 MB string with a raw newline.
  const std::string text = absl::StrCat("[\"", std::string(1 << 20, 'x'), "\n\"]");
  EXPECT_LT(Error(text).size(), kMaxParseErrorBytes + 100);
}

TEST(ParseJsonTest, NestingDeeperThanTheLimitIsRefusedBeforeItIsBuilt) {
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth)).ok());
  EXPECT_EQ(Error(Nested(kMaxJsonDepth + 1)),
            "f.json: not valid JSON: nested deeper than 64 arrays/objects");
  // 100,000 levels: refused at level 65, without building (or later dumping) the rest.
  EXPECT_THAT(Error(Nested(100'000)), HasSubstr("nested deeper than 64"));
  EXPECT_THAT(Error(absl::StrCat(R"({"vocab_size": )", Nested(100'000), "}")),
              HasSubstr("nested deeper"));
  JsonParseOptions shallow = kStrict;
  shallow.max_depth = 2;
  EXPECT_TRUE(ParseJson(R"({"a": [1]})", shallow).ok());
  EXPECT_THAT(Error(R"({"a": [{}]})", shallow), HasSubstr("deeper than 2"));
}

// nlohmann's parser callbacks rescan an object's members whenever a child closes: 40,000
// objects in one object took 41 s. The work here is linear.
TEST(ParseJsonTest, AnObjectOfManyObjectsParsesInLinearTime) {
  std::string text = "{";
  for (int i = 0; i < 40'000; ++i) {
    absl::StrAppend(&text, i > 0 ? "," : "", "\"t", i, R"(":{"dtype":"F32","shape":[1]})");
  }
  text += "}";
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<nlohmann::json> parsed = ParseJson(text, kStrict);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 40'000u);
  EXPECT_LT(seconds, 5.0);
}

TEST(ParseJsonTest, TypeNamesDistinguishIntegersFromFloats) {
  EXPECT_STREQ(JsonTypeName(nlohmann::json(3)), "integer");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(3u)), "integer");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(3.5)), "floating-point number");
  EXPECT_STREQ(JsonTypeName(nlohmann::json("x")), "string");
  EXPECT_STREQ(JsonTypeName(nlohmann::json::array()), "array");
}

TEST(ParseJsonTest, EchoShowsSmallValuesWhole) {
  EXPECT_EQ(EchoJson(nlohmann::json(42)), "42");
  EXPECT_EQ(EchoJson(nlohmann::json(-1.5)), "-1.5");
  EXPECT_EQ(EchoJson(nlohmann::json(nullptr)), "null");
  EXPECT_EQ(EchoJson(nlohmann::json("ab")), "\"ab\"");
  EXPECT_EQ(EchoJson(nlohmann::json::parse(R"({"a": [1, 2], "b": true})")),
            R"({"a":[1,2],"b":true})");
}

TEST(ParseJsonTest, EchoBoundsLongAndDeepValues) {
  EXPECT_LT(EchoJson(nlohmann::json(std::string(1 << 20, 'x'))).size(), 200u);
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 100'000; ++i) many.push_back(i);
  const std::string echoed = EchoJson(many);
  EXPECT_LT(echoed.size(), 200u);
  EXPECT_THAT(echoed, HasSubstr("(100000 items)"));
  // Deeper than any parsed value may be: the rendering stops, it does not recurse.
  nlohmann::json deep = nlohmann::json::array();
  for (int i = 0; i < 10'000; ++i) {
    nlohmann::json outer = nlohmann::json::array();
    outer.push_back(std::move(deep));
    deep = std::move(outer);
  }
  EXPECT_THAT(EchoJson(deep), HasSubstr("[[[[[[[[...]]]]]]]]"));
}

}  // namespace
}  // namespace plumb::json_input
