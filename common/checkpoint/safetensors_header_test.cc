#include "common/checkpoint/safetensors_header.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"

namespace plumb::checkpoint {
namespace {

using ::testing::HasSubstr;

// A header of `count` one-float tensors, laid out in name order, and its data size.
std::pair<std::string, uint64_t> ManyTensors(size_t count) {
  std::string header = "{";
  for (size_t i = 0; i < count; ++i) {
    absl::StrAppend(&header, i > 0 ? "," : "", "\"layers.", i, R"(.w":{"dtype":"F32","shape":[1],)",
                    R"("data_offsets":[)", 4 * i, ",", 4 * (i + 1), "]}");
  }
  header += "}";
  return {header, 4 * count};
}

// nlohmann's parser callbacks made this quadratic: 10,000 tensors took 1.4 s, 40,000 took 41 s.
TEST(SafetensorsHeaderTest, FortyThousandTensorsParseQuickly) {
  const auto [header, data_bytes] = ManyTensors(40'000);
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<SafetensorsHeader> parsed = ParseSafetensorsHeader(header, data_bytes, "m");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->entries.size(), 40'000u);
  EXPECT_EQ(parsed->entries.front().name, "layers.0.w");  // sorted by name
  EXPECT_LT(seconds, 5.0);
}

TEST(SafetensorsHeaderTest, MoreTensorsThanTheLimitAreRefused) {
  const auto [header, data_bytes] = ManyTensors(kMaxSafetensorsTensors + 1);
  const absl::Status status = ParseSafetensorsHeader(header, data_bytes, "m").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("m: header lists 200001 tensors; at most 200000 per file"));
}

TEST(SafetensorsHeaderTest, DeepNestingIsRefusedWhileParsing) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const std::string header =
      absl::StrCat(R"({"w":{"dtype":"F32","shape":)", deep, R"(,"data_offsets":[0,4]}})");
  const absl::Status status = ParseSafetensorsHeader(header, 4, "m").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("m: header: not valid JSON: nested deeper"));
}

TEST(SafetensorsHeaderTest, NamesAndValuesInErrorsAreBounded) {
  const std::string long_name(1 << 20, 'n');
  std::string many_dims = "[";
  for (int i = 0; i < 100'000; ++i) many_dims += "1,";
  many_dims += "-1]";
  for (const std::string& header :
       {absl::StrCat(R"({")", long_name, R"(":{"dtype":"F32","shape":[],"data_offsets":[0,8]}})"),
        absl::StrCat(R"({"w":{"dtype":"F32","shape":)", many_dims, R"(,"data_offsets":[0,4]}})"),
        absl::StrCat(R"({"w":{"dtype":")", long_name, R"(","shape":[],"data_offsets":[0,4]}})")}) {
    const absl::Status status = ParseSafetensorsHeader(header, 4, "m").status();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
    EXPECT_LT(status.message().size(), 500u) << status.message().substr(0, 500);
  }
}

}  // namespace
}  // namespace plumb::checkpoint
