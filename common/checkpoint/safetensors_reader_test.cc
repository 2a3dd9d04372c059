#include "common/checkpoint/safetensors_reader.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_test_files.h"

namespace plumb::checkpoint {
namespace {

using ::plumb::checkpoint::testing::LengthPrefix;
using ::plumb::checkpoint::testing::SafetensorsBytes;
using ::plumb::checkpoint::testing::ScratchDir;
using ::plumb::checkpoint::testing::WriteBytes;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string Bytes(std::initializer_list<float> values) {
  return std::string(reinterpret_cast<const char*>(std::data(values)),
                     values.size() * sizeof(float));
}

// Writes files built by hand into a fresh directory and reads them back.
class SafetensorsReaderTest : public ::testing::Test {
 protected:
  absl::StatusOr<SafetensorsContents> ReadRaw(absl::string_view bytes,
                                              const SafetensorsReadOptions& options = {}) {
    WriteBytes(path_, bytes);
    return ReadSafetensors(path_, options);
  }
  absl::StatusOr<SafetensorsContents> Read(absl::string_view header, absl::string_view data) {
    return ReadRaw(SafetensorsBytes(header, data));
  }
  // Expects DATA_LOSS whose message names the file and contains every fragment.
  void ExpectDataLoss(const absl::StatusOr<SafetensorsContents>& result,
                      std::initializer_list<std::string> fragments) {
    ASSERT_FALSE(result.ok()) << "the reader accepted a malformed file";
    EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss) << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(path_.string()));
    for (const std::string& fragment : fragments) {
      EXPECT_THAT(std::string(result.status().message()), HasSubstr(fragment));
    }
  }

  const std::filesystem::path dir_ = ScratchDir();
  const std::filesystem::path path_ = dir_ / "model.safetensors";
};

TEST_F(SafetensorsReaderTest, ReadsValuesAndMetadataWhateverTheKeyAndDataOrder) {
  // Keys out of order, data in the reverse order of the keys, header not padded.
  const std::string header = R"({"z":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("__metadata__":{"format":"pt"},)"
                             R"("a":{"data_offsets":[8,12],"shape":[],"dtype":"I32"}})";
  const int32_t seven = 7;
  absl::StatusOr<SafetensorsContents> read =
      Read(header, Bytes({1.5f, -2.0f}) + std::string(reinterpret_cast<const char*>(&seven), 4));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->metadata, (SafetensorsMetadata{{"format", "pt"}}));
  ASSERT_EQ(read->tensors.size(), 2u);
  EXPECT_TRUE(at::equal(read->tensors.at("z"), at::tensor({1.5f, -2.0f})));
  EXPECT_EQ(read->tensors.at("a").dim(), 0);
  EXPECT_EQ(read->tensors.at("a").scalar_type(), at::kInt);
  EXPECT_EQ(read->tensors.at("a").item<int32_t>(), 7);
}

TEST_F(SafetensorsReaderTest, EmptyObjectWithNoDataIsAFileWithNoTensors) {
  absl::StatusOr<SafetensorsContents> read = Read("{}      ", "");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->tensors.empty());
  EXPECT_TRUE(read->metadata.empty());
}

TEST_F(SafetensorsReaderTest, ZeroSizeTensorsMaySitAtBoundariesBetweenTensors) {
  const std::string header = R"({"empty_first":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},)"
                             R"("w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("empty_last":{"dtype":"I64","shape":[5,0],"data_offsets":[4,4]}})";
  absl::StatusOr<SafetensorsContents> read = Read(header, Bytes({3.0f}));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->tensors.at("empty_first").sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(read->tensors.at("empty_last").sizes(), (std::vector<int64_t>{5, 0}));
  EXPECT_EQ(read->tensors.at("w").item<float>(), 3.0f);
}

TEST_F(SafetensorsReaderTest, HeaderCanBeReadWithoutTheData) {
  const std::string header = R"({"b":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},)"
                             R"("a":{"dtype":"I64","shape":[1],"data_offsets":[12,20]}})";
  WriteBytes(path_, SafetensorsBytes(header, std::string(20, '\0')));
  absl::StatusOr<SafetensorsHeader> read = ReadSafetensorsHeader(path_);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data_offset, 8 + header.size());
  EXPECT_EQ(read->data_bytes, 20u);
  ASSERT_EQ(read->entries.size(), 2u);
  EXPECT_EQ(read->entries[0].name, "a");  // sorted by name
  EXPECT_EQ(read->entries[1].name, "b");
  EXPECT_EQ(read->entries[1].dtype, "BF16");
  EXPECT_EQ(read->entries[1].scalar_type, at::kBFloat16);
  EXPECT_EQ(read->entries[1].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(read->entries[1].begin, 0u);
  EXPECT_EQ(read->entries[1].end, 12u);
}

TEST_F(SafetensorsReaderTest, MissingFileIsNotFoundAndNamesThePath) {
  absl::StatusOr<SafetensorsContents> read = ReadSafetensors(dir_ / "absent.safetensors");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("absent.safetensors"));
}

TEST_F(SafetensorsReaderTest, DirectoryIsNotARegularFile) {
  absl::StatusOr<SafetensorsContents> read = ReadSafetensors(dir_);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("not a regular file"));
}

TEST_F(SafetensorsReaderTest, FileShorterThanTheLengthPrefixIsTruncated) {
  ExpectDataLoss(ReadRaw(""), {"file is 0 bytes, too short for the 8-byte header length"});
  ExpectDataLoss(ReadRaw(std::string("\x02\0\0\0\0\0\0", 7)), {"file is 7 bytes"});
}

TEST_F(SafetensorsReaderTest, HeaderLengthPastTheEndOfTheFileIsTruncation) {
  ExpectDataLoss(ReadRaw(LengthPrefix(100) + "{}"),
                 {"header length 100 runs past the end of the file (10 bytes)", "truncated"});
}

TEST_F(SafetensorsReaderTest, AbsurdHeaderLengthIsRefusedBeforeAnythingIsAllocated) {
  ExpectDataLoss(ReadRaw(LengthPrefix(~uint64_t{0}) + "{}"),
                 {"header length 18446744073709551615 exceeds the limit of 100000000 bytes"});
  ExpectDataLoss(ReadRaw(LengthPrefix(100'000'001) + "{}"), {"exceeds the limit"});
  const std::string header = R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}})";
  ExpectDataLoss(ReadRaw(SafetensorsBytes(header, ""), {.max_header_bytes = 16}),
                 {"exceeds the limit of 16 bytes"});
}

TEST_F(SafetensorsReaderTest, HeaderThatIsNotJsonIsRefused) {
  ExpectDataLoss(Read(R"({"w": {"dtype": "F32", )", ""), {"header: not valid JSON"});
  ExpectDataLoss(Read("\xff\xfe{}", ""), {"not valid JSON"});
  // nlohmann::json would stop at the NUL and accept the rest.
  ExpectDataLoss(Read(std::string("{}\0garbage", 10), ""),
                 {"not valid JSON: NUL byte at offset 2"});
}

TEST_F(SafetensorsReaderTest, HeaderThatIsNotAnObjectIsRefused) {
  ExpectDataLoss(Read("[1, 2]  ", ""), {"header is a JSON array, expected an object of tensors"});
  ExpectDataLoss(Read("42", ""), {"header is a JSON integer"});
}

TEST_F(SafetensorsReaderTest, EntryThatIsNotAnObjectOrLacksAFieldIsRefused) {
  ExpectDataLoss(Read(R"({"w":[1,2]})", ""), {"tensor 'w': entry is a array"});
  ExpectDataLoss(Read(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "...."),
                 {"tensor 'w': entry has no \"dtype\""});
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "...."),
                 {"tensor 'w': entry has no \"shape\""});
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","shape":[1]}})", "...."),
                 {"tensor 'w': entry has no \"data_offsets\""});
  ExpectDataLoss(Read(R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})", "...."),
                 {"tensor 'w': \"dtype\" is a integer, expected a string"});
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","shape":1,"data_offsets":[0,4]}})", "...."),
                 {"tensor 'w': \"shape\" is a integer, expected an array of integers"});
}

TEST_F(SafetensorsReaderTest, UnknownDTypeIsRefusedNamingTheTensor) {
  ExpectDataLoss(Read(R"({"layer.w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", "...."),
                 {"tensor 'layer.w': unknown dtype \"F33\""});
  ExpectDataLoss(Read(R"({"w":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}})", "...."),
                 {"unknown dtype \"f32\""});
}

TEST_F(SafetensorsReaderTest, DTypeWithoutALibTorchEquivalentIsUnimplemented) {
  absl::StatusOr<SafetensorsContents> read =
      Read(R"({"w":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})", "....");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(read.status().message()),
              AllOf(HasSubstr(path_.string()), HasSubstr("tensor 'w': dtype U16 has no LibTorch")));
}

TEST_F(SafetensorsReaderTest, NegativeOrFractionalDimensionsAreRefused) {
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}})", "...."),
                 {"tensor 'w': shape [2,-1] has a negative dimension"});
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}})", "...."),
                 {"tensor 'w': shape [1.0] holds a floating-point number, expected integers"});
  ExpectDataLoss(
      Read(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})", "...."),
      {"has a too large dimension"});
}

TEST_F(SafetensorsReaderTest, ShapeWhoseSizeOverflowsIsRefused) {
  ExpectDataLoss(
      Read(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", "...."),
      {"tensor 'w': shape [4294967296,4294967296] overflows 64-bit sizes"});
  ExpectDataLoss(  // numel fits in 64 bits, numel × 8 bytes does not
      Read(R"({"w":{"dtype":"I64","shape":[2305843009213693952,2],"data_offsets":[0,4]}})", "...."),
      {"overflows"});
}

TEST_F(SafetensorsReaderTest, DataOffsetsThatAreNotTwoIntegersAreRefused) {
  for (const char* offsets : {"[0]", "[0,4,8]", "\"0,4\"", "[0,4.0]", "[0,\"4\"]", "{}"}) {
    SCOPED_TRACE(offsets);
    ExpectDataLoss(
        Read(absl::StrCat(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":)", offsets, "}}"),
             "...."),
        {"tensor 'w': data_offsets must be two integers [begin, end], got"});
  }
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}})", "...."),
                 {"tensor 'w': data_offsets [-4,0] are negative"});
}

TEST_F(SafetensorsReaderTest, EndBeforeBeginIsRefused) {
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", "...."),
                 {"tensor 'w': data_offsets [4, 0]: end is before begin"});
}

TEST_F(SafetensorsReaderTest, ByteCountThatDisagreesWithShapeAndDTypeIsRefused) {
  ExpectDataLoss(
      Read(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", std::string(12, '\0')),
      {"tensor 'w': data_offsets [0, 12] hold 12 bytes but F32 shape [2, 2] needs 16"});
}

TEST_F(SafetensorsReaderTest, DataOffsetsPastTheDataBufferAreTruncation) {
  ExpectDataLoss(
      Read(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(13, '\0')),
      {"tensor 'w': data_offsets [0, 16] run past the end of the data buffer (13 bytes)",
       "truncated"});
}

TEST_F(SafetensorsReaderTest, OverlappingTensorsAreRefusedNamingBoth) {
  ExpectDataLoss(Read(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                      std::string(12, '\0')),
                 {"tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' (data_offsets [0, 8])"});
  // Two tensors sharing the same bytes.
  ExpectDataLoss(Read(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})",
                      std::string(4, '\0')),
                 {"tensor 'b' (data_offsets [0, 4]) overlaps tensor 'a'"});
  // A zero-size tensor inside another one.
  ExpectDataLoss(Read(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                      std::string(8, '\0')),
                 {"tensor 'e' (data_offsets [4, 4]) overlaps tensor 'a'"});
}

TEST_F(SafetensorsReaderTest, GapBetweenTensorsIsRefused) {
  ExpectDataLoss(Read(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                      std::string(12, '\0')),
                 {"bytes [4, 8] of the data buffer belong to no tensor (gap before tensor 'b'"});
  ExpectDataLoss(
      Read(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')),
      {"bytes [0, 4] of the data buffer belong to no tensor"});
}

TEST_F(SafetensorsReaderTest, TrailingBytesAfterTheLastTensorAreRefused) {
  ExpectDataLoss(
      Read(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", std::string(7, '\0')),
      {"the data buffer has 3 bytes after the last tensor (tensors cover 4 of 7 bytes)"});
  ExpectDataLoss(Read("{}", "x"), {"has 1 bytes after the last tensor"});
}

TEST_F(SafetensorsReaderTest, DuplicateTensorNamesAreRefused) {
  ExpectDataLoss(Read(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                      R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                      std::string(8, '\0')),
                 {"duplicate tensor name 'w'"});
  ExpectDataLoss(
      Read(R"({"w":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}})", "...."),
      {"duplicate key 'dtype'"});
}

TEST_F(SafetensorsReaderTest, MetadataMustMapStringsToStrings) {
  ExpectDataLoss(Read(R"({"__metadata__":{"format":"pt","step":3}})", ""),
                 {"__metadata__ key 'step' is a integer, expected a string"});
  ExpectDataLoss(Read(R"({"__metadata__":["pt"]})", ""), {"__metadata__ is a array"});
}

// A small valid file: two tensors of different dtypes and metadata.
std::string ValidFile() {
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
      R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[16,22]}})";
  return SafetensorsBytes(header, Bytes({1, 2, 3, 4}) + std::string("\x80\x3f\x00\x40\x40\x40", 6));
}

TEST_F(SafetensorsReaderTest, EveryTruncationOfAValidFileIsDataLoss) {
  const std::string file = ValidFile();
  ASSERT_TRUE(ReadRaw(file).ok());
  for (size_t size = 0; size < file.size(); ++size) {
    SCOPED_TRACE(absl::StrCat("truncated to ", size, " of ", file.size(), " bytes"));
    ExpectDataLoss(ReadRaw(absl::string_view(file).substr(0, size)), {});
  }
}

TEST_F(SafetensorsReaderTest, CorruptedBytesNeverCrashAndNeverYieldInconsistentTensors) {
  const std::string file = ValidFile();
  std::mt19937 random(1234);
  int refused = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string corrupt = file;
    const int flips = 1 + static_cast<int>(random() % 3);
    for (int i = 0; i < flips; ++i) {
      corrupt[random() % corrupt.size()] = static_cast<char>(random() & 0xff);
    }
    absl::StatusOr<SafetensorsContents> read = ReadRaw(corrupt);
    if (!read.ok()) {
      ++refused;
      continue;
    }
    // Accepted (e.g. only tensor bytes changed): sizes must still tile the data buffer.
    int64_t bytes = 0;
    for (const auto& [name, tensor] : read->tensors)
      bytes += tensor.numel() * tensor.element_size();
    EXPECT_LE(bytes, static_cast<int64_t>(corrupt.size()));
  }
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace plumb::checkpoint
