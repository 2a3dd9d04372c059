#include "common/config/config_map.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace plumb::config {
namespace {

using ::testing::HasSubstr;

ConfigMap Parse(absl::string_view yaml) {
  absl::StatusOr<ConfigMap> map = ConfigMap::FromString(yaml, "svc.yaml");
  EXPECT_TRUE(map.ok()) << map.status();
  return std::move(map).value();
}

TEST(ConfigMapTest, ReadsTypedValuesAndKeepsDefaultsForAbsentKeys) {
  ConfigMap map = Parse(
      "port: 8080\nname: gen\nratio: 0.25\nenabled: true\nwait: 1500ms\n"
      "tags: [a, b]\n");
  int port = 1;
  std::string name = "x";
  double ratio = 0;
  bool enabled = false;
  absl::Duration wait;
  std::vector<std::string> tags;
  int absent = 42;
  ASSERT_TRUE(map.Read("port", &port, IntRange{0, 65535}).ok());
  ASSERT_TRUE(map.Read("name", &name).ok());
  ASSERT_TRUE(map.Read("ratio", &ratio).ok());
  ASSERT_TRUE(map.Read("enabled", &enabled).ok());
  ASSERT_TRUE(map.Read("wait", &wait).ok());
  ASSERT_TRUE(map.Read("tags", &tags).ok());
  ASSERT_TRUE(map.Read("absent", &absent).ok());
  EXPECT_EQ(port, 8080);
  EXPECT_EQ(name, "gen");
  EXPECT_DOUBLE_EQ(ratio, 0.25);
  EXPECT_TRUE(enabled);
  EXPECT_EQ(wait, absl::Milliseconds(1500));
  EXPECT_THAT(tags, ::testing::ElementsAre("a", "b"));
  EXPECT_EQ(absent, 42);
  EXPECT_TRUE(map.Finish().ok());
}

TEST(ConfigMapTest, OutOfRangeIntegerNamesFileLineKeyValueAndRange) {
  ConfigMap root = Parse("server:\n  address: x\n  port: 70000\n");
  absl::StatusOr<std::optional<ConfigMap>> server = root.Child("server");
  ASSERT_TRUE(server.ok());
  int port = 0;
  absl::Status status = (*server)->Read("port", &port, IntRange{0, 65535});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "svc.yaml:3: key 'server.port': '70000' is out of range; expected an integer in "
            "[0, 65535]");
  EXPECT_EQ(port, 0);
}

TEST(ConfigMapTest, NonNumericValueSaysWhatWasExpected) {
  ConfigMap map = Parse("threads: four\nlr: abc\n");
  int threads = 0;
  double lr = 0;
  EXPECT_EQ(map.Read("threads", &threads, IntRange{1, 256}).message(),
            "svc.yaml:1: key 'threads': 'four' is not an integer; expected an integer in [1, 256]");
  EXPECT_THAT(std::string(map.Read("lr", &lr, DoubleRange{0, 1, true}).message()),
              HasSubstr("key 'lr': 'abc' is not a finite number; expected a number in (0, 1]"));
}

TEST(ConfigMapTest, UnknownKeyIsAnErrorThatSuggestsTheNearestKey) {
  ConfigMap map = Parse("address: localhost\nprot: 50051\n");
  std::string address;
  int port = 0;
  ASSERT_TRUE(map.Read("address", &address).ok());
  ASSERT_TRUE(map.Read("port", &port).ok());
  absl::Status status = map.Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "svc.yaml:2: key 'prot': unknown key; did you mean 'port'? (allowed here: address, "
            "port)");
}

TEST(ConfigMapTest, UnknownKeyInNestedSectionNamesTheFullPath) {
  ConfigMap root = Parse("server:\n  tls:\n    cert_fle: a.pem\n");
  auto server = root.Child("server");
  ASSERT_TRUE(server.ok() && server->has_value());
  auto tls = (*server)->Child("tls");
  ASSERT_TRUE(tls.ok() && tls->has_value());
  std::string cert;
  ASSERT_TRUE((*tls)->Read("cert_file", &cert).ok());
  EXPECT_THAT(std::string((*tls)->Finish().message()),
              HasSubstr("svc.yaml:3: key 'server.tls.cert_fle': unknown key; did you mean "
                        "'cert_file'?"));
}

TEST(ConfigMapTest, ListsOfMappingsAreReadItemByItemAndNamedByIndex) {
  ConfigMap root = Parse("rules:\n  - {name: a, size: 1}\n  - name: b\n    sise: 2\n");
  absl::StatusOr<std::vector<ConfigMap>> rules = root.Children("rules", 8);
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 2u);
  std::string name;
  int64_t size = 0;
  ASSERT_TRUE((*rules)[0].Read("name", &name).ok());
  ASSERT_TRUE((*rules)[0].Read("size", &size).ok());
  EXPECT_EQ(name, "a");
  EXPECT_EQ(size, 1);
  EXPECT_TRUE((*rules)[0].Finish().ok());
  ASSERT_TRUE((*rules)[1].Read("name", &name).ok());
  ASSERT_TRUE((*rules)[1].Read("size", &size).ok());
  EXPECT_THAT(std::string((*rules)[1].Finish().message()),
              HasSubstr("svc.yaml:4: key 'rules[1].sise': unknown key"));
  EXPECT_TRUE(root.Finish().ok());
  // Absent is empty; too many, a scalar, or a list of scalars is refused with the key.
  EXPECT_TRUE(root.Children("absent", 8)->empty());
  EXPECT_THAT(std::string(root.Children("rules", 1).status().message()),
              HasSubstr("key 'rules': 2 items; at most 1"));
  ConfigMap scalars = Parse("rules: [a, b]\nrule: x\n");
  EXPECT_THAT(std::string(scalars.Children("rules", 8).status().message()),
              HasSubstr("item 0: expected a mapping"));
  EXPECT_THAT(std::string(scalars.Children("rule", 8).status().message()),
              HasSubstr("expected a list of mappings"));
}

TEST(ConfigMapTest, ChoiceListsTheAllowedValues) {
  ConfigMap map = Parse("level: loud\n");
  std::string level = "info";
  absl::Status status = map.ReadChoice("level", &level, {"debug", "info", "warn"});
  EXPECT_EQ(status.message(),
            "svc.yaml:1: key 'level': 'loud' is not allowed; expected one of: debug, info, warn");
  EXPECT_EQ(level, "info");
}

TEST(ConfigMapTest, WrongShapesAreExplained) {
  ConfigMap map = Parse("port: [1, 2]\nserver: 5\nempty:\nflag: maybe\nwait: 10\n");
  int port = 0;
  EXPECT_THAT(std::string(map.Read("port", &port).message()),
              HasSubstr("key 'port': expected a single value, got a list"));
  EXPECT_THAT(std::string(map.Child("server").status().message()),
              HasSubstr("key 'server': expected a mapping of keys to values, got a scalar"));
  std::string empty;
  EXPECT_THAT(std::string(map.Read("empty", &empty).message()),
              HasSubstr("key 'empty': expected a single value, got empty (write a value"));
  bool flag = false;
  EXPECT_THAT(std::string(map.Read("flag", &flag).message()),
              HasSubstr("'maybe' is not a boolean; write true or false"));
  absl::Duration wait;
  EXPECT_THAT(std::string(map.Read("wait", &wait).message()),
              HasSubstr("'10' is not a duration; write a number with a unit"));
}

TEST(ConfigMapTest, InvalidYamlAndNonMappingTopLevelAreRefused) {
  absl::StatusOr<ConfigMap> bad = ConfigMap::FromString("a: [1, 2\n", "bad.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("bad.yaml:"));
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("not valid YAML"));
  absl::StatusOr<ConfigMap> list = ConfigMap::FromString("- a\n- b\n", "list.yaml");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.status().message(),
            "list.yaml: the top level must be a mapping of keys to values, not a list");
}

TEST(ConfigMapTest, FromFileReadsAFileAndReportsAMissingOne) {
  const std::string path = ::testing::TempDir() + "/config_map_test.yaml";
  std::ofstream(path) << "port: 9\n";
  absl::StatusOr<ConfigMap> map = ConfigMap::FromFile(path);
  ASSERT_TRUE(map.ok()) << map.status();
  int port = 0;
  ASSERT_TRUE(map->Read("port", &port).ok());
  EXPECT_EQ(port, 9);
  EXPECT_EQ(map->Read("port", &port, IntRange{10, 20}).message(),
            path + ":1: key 'port': '9' is out of range; expected an integer in [10, 20]");
  absl::StatusOr<ConfigMap> missing = ConfigMap::FromFile("/nonexistent/x.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "/nonexistent/x.yaml: cannot open config file");
}

TEST(ConfigMapTest, OversizedYamlIsRefusedBeforeParsing) {
  const std::string yaml = "name: " + std::string(kMaxConfigFileBytes, 'x') + "\n";
  const absl::Status status = ConfigMap::FromString(yaml, "big.yaml").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("big.yaml: 4194311 bytes; config files"));
}

TEST(ConfigMapTest, ValuesAndUnknownKeysInErrorsAreBounded) {
  const std::string long_value(100'000, '9');
  ConfigMap map = Parse("port: " + long_value + "\n" + std::string(1000, 'k') + ": 1\n");
  int port = 0;
  const absl::Status bad_port = map.Read("port", &port, IntRange{0, 65535});
  EXPECT_LT(bad_port.message().size(), 400u);
  EXPECT_THAT(std::string(bad_port.message()), HasSubstr("...(100000 bytes) is not an integer"));
  const absl::Status unknown = map.Finish();
  EXPECT_LT(unknown.message().size(), 600u) << unknown.message().substr(0, 600);
}

}  // namespace
}  // namespace plumb::config
