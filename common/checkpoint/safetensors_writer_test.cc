#include "common/checkpoint/safetensors_writer.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "common/checkpoint/checkpoint_test_files.h"
#include "common/checkpoint/safetensors_reader.h"

namespace plumb::checkpoint {
namespace {

using ::plumb::checkpoint::testing::BitEqual;
using ::plumb::checkpoint::testing::CountTemporaryFiles;
using ::plumb::checkpoint::testing::ReadBytes;
using ::plumb::checkpoint::testing::ScratchDir;
using ::testing::HasSubstr;

// Random values plus the awkward ones (NaN, ±inf, -0, subnormals) for floating-point dtypes.
at::Tensor Sample(c10::ScalarType dtype) {
  at::manual_seed(42);
  if (dtype == at::kBool) return at::rand({5, 7}) > 0.5;
  if (!c10::isFloatingType(dtype)) {
    const double low = dtype == at::kByte ? 0 : -100;
    at::Tensor values = at::randint(static_cast<int64_t>(low), 100, {5, 7}, at::kLong).to(dtype);
    if (dtype == at::kLong) values[0][0] = std::numeric_limits<int64_t>::min();
    if (dtype == at::kInt) values[0][0] = std::numeric_limits<int32_t>::max();
    return values;
  }
  at::Tensor values = (at::randn({5, 7}, at::kDouble) * 1000).to(dtype);
  const double specials[] = {std::numeric_limits<double>::quiet_NaN(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), -0.0, 1e-42};
  for (int i = 0; i < 5; ++i) values[1][i] = specials[i];
  return values;
}

class SafetensorsDTypeRoundTripTest : public ::testing::TestWithParam<c10::ScalarType> {};

TEST_P(SafetensorsDTypeRoundTripTest, RoundTripIsBitExact) {
  const std::filesystem::path path = ScratchDir() / "t.safetensors";
  const at::Tensor source = Sample(GetParam());
  ASSERT_TRUE(WriteSafetensors(path, {{"w", source}}).ok());
  absl::StatusOr<SafetensorsContents> read = ReadSafetensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(BitEqual(read->tensors.at("w"), source));
}

INSTANTIATE_TEST_SUITE_P(EveryStorableDType, SafetensorsDTypeRoundTripTest,
                         ::testing::Values(at::kFloat, at::kBFloat16, at::kHalf, at::kLong,
                                           at::kInt, at::kDouble, at::kShort, at::kChar, at::kByte,
                                           at::kBool));

TEST(SafetensorsWriterTest, MixedTensorsScalarsEmptiesAndMetadataRoundTrip) {
  const std::filesystem::path path = ScratchDir() / "t.safetensors";
  const TensorMap tensors = {
      {"model.embed_tokens.weight", Sample(at::kBFloat16)},
      {"model.norm.weight", Sample(at::kFloat)},
      {"scalar", at::scalar_tensor(2.5, at::kHalf)},
      {"empty", at::empty({0, 4}, at::kLong)},
      {"ids", at::arange(3, at::kInt)},
  };
  const SafetensorsMetadata metadata = {{"format", "pt"}, {"plumb.policy_version", "17"}};
  ASSERT_TRUE(WriteSafetensors(path, tensors, metadata).ok());
  absl::StatusOr<SafetensorsContents> read = ReadSafetensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->metadata, metadata);
  ASSERT_EQ(read->tensors.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    EXPECT_TRUE(BitEqual(read->tensors.at(name), tensor)) << name;
  }
}

TEST(SafetensorsWriterTest, NonContiguousTensorsAreStoredInLogicalOrder) {
  const std::filesystem::path path = ScratchDir() / "t.safetensors";
  const at::Tensor transposed = at::arange(12, at::kFloat).reshape({3, 4}).t();
  const at::Tensor sliced = at::arange(20, at::kLong).slice(0, 1, 20, 3);
  ASSERT_TRUE(WriteSafetensors(path, {{"t", transposed}, {"s", sliced}}).ok());
  absl::StatusOr<SafetensorsContents> read = ReadSafetensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(at::equal(read->tensors.at("t"), transposed));
  EXPECT_TRUE(at::equal(read->tensors.at("s"), sliced));
  EXPECT_TRUE(read->tensors.at("t").is_contiguous());
}

TEST(SafetensorsWriterTest, HeaderIsSortedAndPaddedWithSpacesToAMultipleOfEight) {
  const std::filesystem::path dir = ScratchDir();
  for (int name_length = 1; name_length <= 8; ++name_length) {  // every padding amount
    const std::filesystem::path path = dir / "t.safetensors";
    ASSERT_TRUE(WriteSafetensors(
                    path, {{std::string(name_length, 'z'), at::ones({1})}, {"a", at::ones({1})}})
                    .ok());
    const std::string bytes = ReadBytes(path);
    uint64_t header_length = 0;
    std::memcpy(&header_length, bytes.data(), 8);
    EXPECT_EQ((8 + header_length) % 8, 0u);
    const std::string header = bytes.substr(8, header_length);
    const size_t json_end = header.find_last_not_of(' ');
    EXPECT_EQ(header[json_end], '}');
    EXPECT_LT(header.size() - json_end - 1, 8u);  // padding only, never a whole extra block
    EXPECT_LT(header.find("\"a\""), header.find("\"z"));
  }
}

TEST(SafetensorsWriterTest, EachTensorStartsAtAMultipleOfItsElementSize) {
  const std::filesystem::path path = ScratchDir() / "t.safetensors";
  // Odd element counts: in name order an I64 would follow 3 bytes of U8 and 3 of BF16.
  ASSERT_TRUE(WriteSafetensors(path, {{"a_bytes", at::ones({3}, at::kByte)},
                                      {"b_half", at::ones({3}, at::kBFloat16)},
                                      {"c_long", at::ones({3}, at::kLong)},
                                      {"d_int", at::ones({1}, at::kInt)}})
                  .ok());
  absl::StatusOr<SafetensorsHeader> header = ReadSafetensorsHeader(path);
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->data_offset % 8, 0u);
  for (const SafetensorsEntry& entry : header->entries) {
    EXPECT_EQ(entry.begin % entry.element_size, 0u) << entry.name;
  }
}

TEST(SafetensorsWriterTest, RewritingReplacesTheFileAndLeavesNoTemporaryFiles) {
  const std::filesystem::path dir = ScratchDir();
  const std::filesystem::path path = dir / "t.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"old", at::ones({100})}}).ok());
  ASSERT_TRUE(WriteSafetensors(path, {{"new", at::zeros({2})}}).ok());
  absl::StatusOr<SafetensorsContents> read = ReadSafetensors(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->tensors.size(), 1u);
  EXPECT_TRUE(read->tensors.contains("new"));
  EXPECT_EQ(CountTemporaryFiles(dir), 0);
}

TEST(SafetensorsWriterTest, RefusedTensorsLeaveTheExistingFileUntouched) {
  const std::filesystem::path dir = ScratchDir();
  const std::filesystem::path path = dir / "t.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"w", at::ones({4})}}).ok());
  const std::string before = ReadBytes(path);
  const absl::Status status =
      WriteSafetensors(path, {{"fine", at::ones({2})}, {"z", at::ones({2}, at::kComplexFloat)}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr(path.string()));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tensor 'z' has dtype ComplexFloat, which safetensors cannot store"));
  EXPECT_EQ(ReadBytes(path), before);
  EXPECT_EQ(CountTemporaryFiles(dir), 0);
}

TEST(SafetensorsWriterTest, ReservedNamesUndefinedAndSparseTensorsAreRefused) {
  const std::filesystem::path path = ScratchDir() / "t.safetensors";
  EXPECT_THAT(std::string(WriteSafetensors(path, {{"__metadata__", at::ones({1})}}).message()),
              HasSubstr("tensor name '__metadata__' is reserved"));
  EXPECT_THAT(std::string(WriteSafetensors(path, {{"", at::ones({1})}}).message()),
              HasSubstr("tensor name '' is reserved"));
  EXPECT_THAT(std::string(WriteSafetensors(path, {{"u", at::Tensor()}}).message()),
              HasSubstr("tensor 'u' is undefined"));
  EXPECT_THAT(std::string(WriteSafetensors(path, {{"s", at::eye(3).to_sparse()}}).message()),
              HasSubstr("tensor 's' has layout Sparse; only dense (strided) tensors"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(SafetensorsWriterTest, WritingIntoAMissingDirectoryIsNotFound) {
  const std::filesystem::path path = ScratchDir() / "no_such_dir" / "t.safetensors";
  const absl::Status status = WriteSafetensors(path, {{"w", at::ones({1})}});
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("no_such_dir"));
}

}  // namespace
}  // namespace plumb::checkpoint
