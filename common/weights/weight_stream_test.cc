#include <gmock/gmock.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/weights/weight_stream_proto.h"
#include "common/weights/weight_stream_receiver.h"
#include "common/weights/weight_stream_sender.h"

namespace plumb::weights {
namespace {

using ::testing::HasSubstr;

std::map<std::string, at::Tensor> Tensors() {
  torch::manual_seed(1);
  return {{"a.weight", torch::randn({300, 1000})},  // 1.2 MB: several chunks
          {"b.weight", torch::randn({7}).to(torch::kBFloat16)}};
}

WeightTarget Target() {
  WeightTarget target;
  target.architecture = "llama";
  target.shapes = {{"a.weight", {300, 1000}}, {"b.weight", {7}}};
  target.has_weights = true;
  target.version = 3;
  return target;
}

std::vector<v1::WeightChunk> Stream(const std::map<std::string, at::Tensor>& tensors,
                                    SendOptions options) {
  std::vector<v1::WeightChunk> out;
  absl::StatusOr<uint64_t> sent = SendWeightStream(tensors, options, [&](const v1::WeightChunk& c) {
    out.push_back(c);
    return true;
  });
  EXPECT_TRUE(sent.ok()) << sent.status();
  return out;
}

SendOptions Options(uint64_t version = 4) {
  SendOptions options;
  options.version = version;
  options.architecture = "llama";
  options.source = "test";
  options.create_time = absl::FromUnixSeconds(1700000000);
  return options;
}

// Feeds the messages; returns the first error, or Finish's result.
absl::StatusOr<ReceivedWeights> Receive(const WeightTarget& target,
                                        const std::vector<v1::WeightChunk>& messages) {
  WeightStreamReceiver receiver(target);
  for (const v1::WeightChunk& m : messages) {
    absl::Status status = receiver.Add(FromProto(m));
    if (!status.ok()) return status;
  }
  return receiver.Finish();
}

// The hand-serialised wire stream parses into exactly the messages the generated path sends.
TEST(WeightStreamTest, TheZeroCopyWireStreamIsTheSameMessages) {
  const auto tensors = Tensors();
  const std::vector<v1::WeightChunk> expected = Stream(tensors, Options());
  std::vector<v1::WeightChunk> parsed;
  absl::StatusOr<uint64_t> sent =
      SendWeightStreamToWire(tensors, Options(), [&](const grpc::ByteBuffer& buffer) {
        grpc::ByteBuffer copy(buffer);
        v1::WeightChunk message;
        EXPECT_TRUE(grpc::SerializationTraits<v1::WeightChunk>::Deserialize(&copy, &message).ok());
        parsed.push_back(message);
        return true;
      });
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(*sent, 300u * 1000 * 4 + 7 * 2);
  ASSERT_EQ(parsed.size(), expected.size());
  ASSERT_TRUE(parsed.front().has_manifest());
  EXPECT_EQ(parsed.front().manifest().create_time().seconds(), 1700000000);
  for (size_t i = 0; i < parsed.size(); ++i) {
    EXPECT_EQ(parsed[i].SerializeAsString(), expected[i].SerializeAsString()) << "message " << i;
  }
  absl::StatusOr<ReceivedWeights> received = Receive(Target(), parsed);
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_TRUE(at::equal(received->tensors.at("a.weight"), tensors.at("a.weight")));
}

TEST(WeightStreamTest, WritesIntoTheTargetsDestinationsWhenItHasThem) {
  const auto tensors = Tensors();
  std::map<std::string, at::Tensor> destinations = {
      {"a.weight", torch::zeros({300, 1000})}, {"b.weight", torch::zeros({7}, torch::kBFloat16)}};
  WeightTarget target = Target();
  target.destinations = [&](const WeightManifest&) { return destinations; };
  absl::StatusOr<ReceivedWeights> received = Receive(target, Stream(tensors, Options()));
  ASSERT_TRUE(received.ok()) << received.status();
  EXPECT_TRUE(received->in_place);
  EXPECT_TRUE(received->tensors.at("a.weight").is_alias_of(destinations.at("a.weight")));
  EXPECT_TRUE(at::equal(destinations.at("a.weight"), tensors.at("a.weight")));
  EXPECT_TRUE(at::equal(destinations.at("b.weight"), tensors.at("b.weight")));
  // Without destinations (nullopt), new tensors.
  target.destinations = [](const WeightManifest&) {
    return std::optional<std::map<std::string, at::Tensor>>();
  };
  received = Receive(target, Stream(tensors, Options()));
  ASSERT_TRUE(received.ok());
  EXPECT_FALSE(received->in_place);
  EXPECT_FALSE(received->tensors.at("a.weight").is_alias_of(destinations.at("a.weight")));
}

TEST(WeightStreamTest, RoundTripsEveryTensorBitExactly) {
  const auto tensors = Tensors();
  const std::vector<v1::WeightChunk> messages = Stream(tensors, Options());
  ASSERT_GE(messages.size(), 5u);  // manifest, >= 2 + 1 chunks, commit
  absl::StatusOr<ReceivedWeights> got = Receive(Target(), messages);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->version, 4u);
  EXPECT_EQ(got->source, "test");
  EXPECT_EQ(got->bytes, 300u * 1000 * 4 + 7 * 2);
  for (const auto& [name, t] : tensors) EXPECT_TRUE(at::equal(got->tensors.at(name), t)) << name;
}

TEST(WeightStreamTest, ManifestThatDoesNotFitTheModelIsRefusedBeforeAnyData) {
  auto tensors = Tensors();
  tensors["c.weight"] = torch::zeros({2});
  tensors["a.weight"] = torch::zeros({300, 999});
  absl::StatusOr<ReceivedWeights> got = Receive(Target(), Stream(tensors, Options()));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("unknown tensor 'c.weight'"));
  EXPECT_THAT(std::string(got.status().message()),
              HasSubstr("tensor 'a.weight' has shape [300, 999], the model has [300, 1000]"));

  tensors = Tensors();
  tensors.erase("b.weight");
  got = Receive(Target(), Stream(tensors, Options()));
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("tensor 'b.weight' is missing"));
  SendOptions partial = Options();
  partial.partial = true;
  EXPECT_TRUE(Receive(Target(), Stream(tensors, partial)).ok());
}

// A 1 MB tensor name used to come back whole in the error, past gRPC's 8 KiB metadata limit, so
// the caller saw a transport error instead of the message.
TEST(WeightStreamTest, ErrorsQuoteAtMostAShortPieceOfAName) {
  auto tensors = Tensors();
  tensors[std::string(1 << 20, 'n')] = torch::zeros({2});
  absl::StatusOr<ReceivedWeights> got = Receive(Target(), Stream(tensors, Options()));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(got.status().message()), HasSubstr("...(1048576 bytes)"));
  EXPECT_LT(got.status().message().size(), 1024u);
}

TEST(WeightStreamTest, VersionsArchitectureAndModelNameAreChecked) {
  const auto tensors = Tensors();
  EXPECT_EQ(Receive(Target(), Stream(tensors, Options(3))).status().code(),
            absl::StatusCode::kAlreadyExists);
  absl::StatusOr<ReceivedWeights> old = Receive(Target(), Stream(tensors, Options(2)));
  EXPECT_EQ(old.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(old.status().message()), HasSubstr("allow_downgrade"));
  SendOptions downgrade = Options(2);
  downgrade.allow_downgrade = true;
  EXPECT_TRUE(Receive(Target(), Stream(tensors, downgrade)).ok());
  SendOptions other = Options();
  other.architecture = "gpt2";
  EXPECT_EQ(Receive(Target(), Stream(tensors, other)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A reward model's readout: ignored by a receiver without a reward head, checked by one with.
  SendOptions mean_rm = Options();
  mean_rm.architecture = "llama/reward_readout=response_mean";
  EXPECT_TRUE(Receive(Target(), Stream(tensors, mean_rm)).ok());
  WeightTarget last_token_rm = Target();
  last_token_rm.shapes["score.weight"] = {1, 8};
  absl::StatusOr<ReceivedWeights> refused = Receive(last_token_rm, Stream(tensors, mean_rm));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("manifest architecture 'llama/reward_readout=response_mean' differs"));
  last_token_rm.architecture = "llama/reward_readout=response_mean";
  EXPECT_EQ(Receive(last_token_rm, Stream(tensors, Options())).status().code(),
            absl::StatusCode::kFailedPrecondition);
  other = Options();
  other.model = "safety";
  EXPECT_THAT(std::string(Receive(Target(), Stream(tensors, other)).status().message()),
              HasSubstr("manifest names model 'safety'"));
}

TEST(WeightStreamTest, BrokenFramingIsInvalidArgumentAndCorruptionIsDataLoss) {
  const std::vector<v1::WeightChunk> good = Stream(Tensors(), Options());
  auto expect = [&](std::vector<v1::WeightChunk> messages, absl::StatusCode code,
                    const std::string& text) {
    absl::StatusOr<ReceivedWeights> got = Receive(Target(), messages);
    EXPECT_EQ(got.status().code(), code) << got.status();
    EXPECT_THAT(std::string(got.status().message()), HasSubstr(text));
  };
  expect({good.begin() + 1, good.end()}, absl::StatusCode::kInvalidArgument,
         "first message of a weight stream must be a manifest");
  expect({good.begin(), good.end() - 1}, absl::StatusCode::kInvalidArgument, "without a commit");
  std::vector<v1::WeightChunk> messages = good;
  messages.erase(messages.end() - 2);  // the last chunk of the last tensor
  expect(messages, absl::StatusCode::kInvalidArgument, "");
  messages = good;
  std::string* data = messages[1].mutable_tensor()->mutable_data();
  (*data)[10] ^= 1;
  expect(messages, absl::StatusCode::kDataLoss, "");
  messages = good;
  messages[2].set_version(9);
  expect(messages, absl::StatusCode::kInvalidArgument, "message for version 9");
  messages = good;
  messages[1].mutable_tensor()->set_name("z.weight");
  expect(messages, absl::StatusCode::kInvalidArgument, "not in the manifest");
  messages = good;
  messages.back().mutable_commit()->set_tensor_count(5);
  expect(messages, absl::StatusCode::kInvalidArgument, "the commit counts 5 tensors");
}

}  // namespace
}  // namespace plumb::weights
