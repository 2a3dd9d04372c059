// The TrainingConfig <-> algorithm kind table of SessionOptionsFromProto: every algorithm of
// learner.proto's enum reads into a registered kind, every registered kind is read from some
// proto algorithm, and values outside the table are INVALID_ARGUMENT naming the field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/api/learner_algorithm_kind.h"
#include "common/clients/learner_config_proto.h"

namespace plumb::clients {
namespace {

using learner::Algorithm;
using learner::BuiltinLearnerAlgorithms;
using learner::LearnerAlgorithmOf;
using learner::SessionOptions;

using ::testing::HasSubstr;

TEST(LearnerTrainingConfigTest, EveryProtoAlgorithmReadsIntoARegisteredKind) {
  const google::protobuf::EnumDescriptor* algorithms = v1::Algorithm_descriptor();
  std::set<int> listed;
  for (const auto& [proto, algorithm] : ProtoAlgorithms()) listed.insert(proto);
  for (int i = 0; i < algorithms->value_count(); ++i) {
    const int proto = algorithms->value(i)->number();
    if (proto == v1::ALGORITHM_UNSPECIFIED) continue;
    SCOPED_TRACE(algorithms->value(i)->name());
    EXPECT_EQ(listed.count(proto), 1u) << "no line in kProtoAlgorithms";
    v1::TrainingConfig config;
    config.set_algorithm(static_cast<v1::Algorithm>(proto));
    absl::StatusOr<SessionOptions> options = SessionOptionsFromProto(config);
    ASSERT_TRUE(options.ok()) << options.status();
    EXPECT_TRUE(LearnerAlgorithmOf(options->algorithm).ok());
  }
}

TEST(LearnerTrainingConfigTest, EveryRegisteredKindIsReadFromSomeProtoAlgorithm) {
  std::set<Algorithm> read;
  for (const auto& [proto, algorithm] : ProtoAlgorithms()) read.insert(algorithm);
  for (const auto& kind : BuiltinLearnerAlgorithms().kinds()) {
    EXPECT_EQ(read.count(kind->algorithm), 1u) << kind->name;
  }
}

TEST(LearnerTrainingConfigTest, GetInfoListsTheProtoAlgorithmsInTheirEnumOrder) {
  int previous = v1::ALGORITHM_UNSPECIFIED;
  for (const auto& [proto, algorithm] : ProtoAlgorithms()) {
    EXPECT_GT(proto, previous);
    previous = proto;
  }
  EXPECT_EQ(ProtoAlgorithms().size(), 14u);
}

TEST(LearnerTrainingConfigTest, AnAlgorithmOutsideTheTableIsInvalidArgumentNamingTheField) {
  v1::TrainingConfig config;
  config.set_algorithm(static_cast<v1::Algorithm>(99));
  absl::StatusOr<SessionOptions> options = SessionOptionsFromProto(config);
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.status().message()),
              HasSubstr("config.algorithm: unknown value 99"));

  config.set_algorithm(v1::ALGORITHM_UNSPECIFIED);
  options = SessionOptionsFromProto(config);
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("config.algorithm: is required"));
}

TEST(LearnerTrainingConfigTest, ASectionOfAnotherAlgorithmIsRefused) {
  v1::TrainingConfig config;
  config.set_algorithm(v1::ALGORITHM_IPO);
  config.mutable_kto();
  absl::StatusOr<SessionOptions> options = SessionOptionsFromProto(config);
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(options.status().message()), HasSubstr("config.algorithm_config"));
  // IPO and cDPO are the DPO kind, with their losses.
  config.mutable_dpo();
  options = SessionOptionsFromProto(config);
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->algorithm, Algorithm::kDpo);
  EXPECT_EQ(options->dpo.loss_type, "ipo");
}

}  // namespace
}  // namespace plumb::clients
