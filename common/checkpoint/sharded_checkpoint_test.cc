#include "common/checkpoint/sharded_checkpoint.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/checkpoint_test_files.h"
#include "common/checkpoint/safetensors_writer.h"

namespace plumb::checkpoint {
namespace {

using ::plumb::checkpoint::testing::BitEqual;
using ::plumb::checkpoint::testing::ReadBytes;
using ::plumb::checkpoint::testing::ScratchDir;
using ::plumb::checkpoint::testing::WriteBytes;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 4 tensors of 400, 200, 400 and 8 bytes, several dtypes.
TensorMap SampleTensors() {
  at::manual_seed(3);
  return {{"a.weight", at::randn({10, 10})},
          {"b.weight", at::randn({100}).to(at::kBFloat16)},
          {"c.weight", at::randn({200}).to(at::kHalf)},
          {"d.ids", at::tensor({int64_t{1} << 60}, at::kLong)}};
}

class ShardedCheckpointTest : public ::testing::Test {
 protected:
  // Writes SampleTensors() in shards of at most 600 bytes: [a, b], [c, d].
  void WriteSample() {
    absl::StatusOr<std::vector<std::string>> written =
        WriteShardedSafetensors(dir_, SampleTensors(), {.max_shard_bytes = 600});
    ASSERT_TRUE(written.ok()) << written.status();
  }
  void WriteIndex(const nlohmann::json& index) { WriteBytes(index_path_, index.dump()); }
  absl::Status ReadError() { return ReadShardedSafetensors(index_path_).status(); }

  const std::filesystem::path dir_ = ScratchDir();
  const std::filesystem::path index_path_ = dir_ / kSafetensorsIndexFileName;
};

TEST_F(ShardedCheckpointTest, RoundTripIsBitExactAcrossShards) {
  WriteSample();
  absl::StatusOr<TensorMap> read = ReadShardedSafetensors(index_path_);
  ASSERT_TRUE(read.ok()) << read.status();
  const TensorMap expected = SampleTensors();
  ASSERT_EQ(read->size(), expected.size());
  for (const auto& [name, tensor] : expected) EXPECT_TRUE(BitEqual(read->at(name), tensor)) << name;
}

TEST_F(ShardedCheckpointTest, ShardsFillInNameOrderUpToTheMaximumSize) {
  absl::StatusOr<std::vector<std::string>> written =
      WriteShardedSafetensors(dir_, SampleTensors(), {.max_shard_bytes = 600});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(*written, ElementsAre("model-00001-of-00002.safetensors",
                                    "model-00002-of-00002.safetensors", kSafetensorsIndexFileName));
  absl::StatusOr<SafetensorsIndex> index = ReadSafetensorsIndex(index_path_);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->total_size, 400u + 200u + 400u + 8u);
  EXPECT_EQ(index->weight_map,
            (std::map<std::string, std::string>{{"a.weight", "model-00001-of-00002.safetensors"},
                                                {"b.weight", "model-00001-of-00002.safetensors"},
                                                {"c.weight", "model-00002-of-00002.safetensors"},
                                                {"d.ids", "model-00002-of-00002.safetensors"}}));
  absl::StatusOr<SafetensorsContents> shard = ReadSafetensors(dir_ / (*written)[0]);
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(shard->metadata, (SafetensorsMetadata{{"format", "pt"}}));
}

TEST_F(ShardedCheckpointTest, TensorLargerThanTheMaximumGetsAShardOfItsOwn) {
  absl::StatusOr<std::vector<std::string>> written =
      WriteShardedSafetensors(dir_, SampleTensors(), {.max_shard_bytes = 100});
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->size(), 5u);  // a, b, c, d alone, then the index
  EXPECT_EQ((*written)[3], "model-00004-of-00004.safetensors");
  EXPECT_TRUE(ReadShardedSafetensors(index_path_).ok());
}

TEST_F(ShardedCheckpointTest, OneShardStillGetsAnIndexAndAnEmptyMapWritesOneEmptyShard) {
  absl::StatusOr<std::vector<std::string>> written = WriteShardedSafetensors(dir_, SampleTensors());
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_THAT(*written, ElementsAre("model-00001-of-00001.safetensors", kSafetensorsIndexFileName));

  const std::filesystem::path empty_dir = dir_ / "empty";
  std::filesystem::create_directory(empty_dir);
  ASSERT_TRUE(WriteShardedSafetensors(empty_dir, {}).ok());
  absl::StatusOr<TensorMap> read = ReadSafetensorsCheckpoint(empty_dir);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->empty());
}

TEST_F(ShardedCheckpointTest, UnstorableTensorIsRefusedBeforeAnyShardIsWritten) {
  TensorMap tensors = SampleTensors();
  tensors.emplace("z.complex", at::ones({2}, at::kComplexDouble));
  const absl::Status status =
      WriteShardedSafetensors(dir_, tensors, {.max_shard_bytes = 100}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("tensor 'z.complex'"));
  EXPECT_TRUE(std::filesystem::is_empty(dir_));
}

TEST_F(ShardedCheckpointTest, CheckpointDirectoryPrefersTheIndexAndFallsBackToOneFile) {
  const std::filesystem::path single_dir = dir_ / "single";
  std::filesystem::create_directory(single_dir);
  ASSERT_TRUE(
      WriteSafetensors(single_dir / kSingleSafetensorsFileName, {{"only", at::ones({2})}}).ok());
  absl::StatusOr<TensorMap> single = ReadSafetensorsCheckpoint(single_dir);
  ASSERT_TRUE(single.ok()) << single.status();
  EXPECT_TRUE(single->contains("only"));

  WriteSample();
  absl::StatusOr<TensorMap> sharded = ReadSafetensorsCheckpoint(dir_);
  ASSERT_TRUE(sharded.ok()) << sharded.status();
  EXPECT_EQ(sharded->size(), 4u);

  const absl::Status none = ReadSafetensorsCheckpoint(dir_ / "nothing").status();
  EXPECT_EQ(none.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(none.message()), HasSubstr("no model.safetensors.index.json and no "
                                                     "model.safetensors"));
}

TEST_F(ShardedCheckpointTest, TensorInAShardOtherThanTheIndexSaysIsRefused) {
  WriteSample();
  nlohmann::json index = nlohmann::json::parse(ReadBytes(index_path_));
  index["weight_map"]["a.weight"] = "model-00002-of-00002.safetensors";
  WriteIndex(index);
  const absl::Status status = ReadError();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr(index_path_.string()));
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("tensor 'a.weight' is in shard 'model-00001-of-00002.safetensors' but the "
                        "weight_map says 'model-00002-of-00002.safetensors'"));
}

TEST_F(ShardedCheckpointTest, TensorListedInTheIndexButMissingFromItsShardIsRefused) {
  WriteSample();
  nlohmann::json index = nlohmann::json::parse(ReadBytes(index_path_));
  index["weight_map"]["e.weight"] = "model-00002-of-00002.safetensors";
  WriteIndex(index);
  EXPECT_THAT(std::string(ReadError().message()),
              HasSubstr("tensor 'e.weight' is missing: the weight_map puts it in shard "
                        "'model-00002-of-00002.safetensors', which lacks it"));
}

TEST_F(ShardedCheckpointTest, TensorAShardHoldsButTheIndexOmitsIsRefused) {
  WriteSample();
  nlohmann::json index = nlohmann::json::parse(ReadBytes(index_path_));
  index["weight_map"].erase("d.ids");
  WriteIndex(index);
  EXPECT_THAT(std::string(ReadError().message()),
              HasSubstr("shard 'model-00002-of-00002.safetensors' holds tensor 'd.ids', which the "
                        "weight_map does not list"));
}

TEST_F(ShardedCheckpointTest, MissingOrCorruptShardFailsTheWholeLoad) {
  WriteSample();
  std::filesystem::remove(dir_ / "model-00002-of-00002.safetensors");
  absl::Status status = ReadError();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("model-00002-of-00002.safetensors"));

  WriteBytes(dir_ / "model-00002-of-00002.safetensors", "garbage!!");
  status = ReadError();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(status.message()), HasSubstr("model-00002-of-00002.safetensors"));
}

TEST_F(ShardedCheckpointTest, ShardNamesThatLeaveTheDirectoryAreRefused) {
  for (const char* shard : {"../model.safetensors", "sub/model.safetensors", "..", ""}) {
    SCOPED_TRACE(shard);
    WriteIndex({{"weight_map", {{"w", shard}}}});
    EXPECT_THAT(std::string(ReadError().message()),
                HasSubstr(absl::StrCat("tensor 'w': shard '", shard,
                                       "' is not a plain file name beside the index")));
  }
}

TEST_F(ShardedCheckpointTest, MalformedIndexFilesAreRefusedNamingTheProblem) {
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "not valid JSON"},
      {"[]", "is a JSON array, expected an object with \"weight_map\""},
      {R"({"metadata": {}})", "has no \"weight_map\""},
      {R"({"weight_map": []})", "\"weight_map\" is a array"},
      {R"({"weight_map": {"w": 3}})", "tensor 'w': shard is a integer, expected a file name"},
      {R"({"metadata": 5, "weight_map": {}})", "\"metadata\" is a integer"},
      {R"({"weight_map": {"w": "a.safetensors", "w": "b.safetensors"}})", "duplicate key 'w'"},
  };
  for (const auto& [text, message] : cases) {
    SCOPED_TRACE(text);
    WriteBytes(index_path_, text);
    const absl::Status status = ReadError();
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(status.message()), HasSubstr(index_path_.string()));
    EXPECT_THAT(std::string(status.message()), HasSubstr(message));
  }
}

}  // namespace
}  // namespace plumb::checkpoint
