#include "services/plumb-reference/reference_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/service/service_config.h"

namespace plumb::reference {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ReferenceOptions> Parse(const std::string& yaml) {
  absl::StatusOr<config::ConfigMap> root = config::ConfigMap::FromString(yaml, "ref.yaml");
  if (!root.ok()) return root.status();
  ReferenceOptions options;
  absl::StatusOr<service::ServiceConfig> config = service::ParseServiceConfig(
      *root, [&](config::ConfigMap& map) { return ParseReferenceSection(map, "/srv", &options); });
  if (!config.ok()) return config.status();
  return options;
}

TEST(ReferenceOptionsTest, ReadsTheSectionWithDefaultsAndResolvesThePath) {
  absl::StatusOr<ReferenceOptions> o =
      Parse("reference:\n  model: {path: models/ref, dtype: bf16}\n  max_batch_size: 4\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->model_path, "/srv/models/ref");
  EXPECT_EQ(o->dtype, "bf16");
  EXPECT_EQ(o->limits.max_batch_size, 4);
  EXPECT_EQ(o->limits.max_items_per_request, 1024);
  EXPECT_EQ(o->limits.max_queued_requests, 64);
}

TEST(ReferenceOptionsTest, MistakesNameTheKey) {
  EXPECT_THAT(std::string(Parse("server: {}\n").status().message()),
              HasSubstr("key 'reference': is required"));
  EXPECT_THAT(std::string(Parse("reference: {model: {dtype: fp32}}\n").status().message()),
              HasSubstr("key 'reference.model.path': is required"));
  EXPECT_THAT(
      std::string(Parse("reference: {model: {path: m}, max_batch_size: 0}\n").status().message()),
      HasSubstr("ref.yaml:1: key 'reference.max_batch_size'"));
  EXPECT_THAT(
      std::string(Parse("reference: {model: {path: m}, max_batch: 2}\n").status().message()),
      HasSubstr("key 'reference.max_batch': unknown key"));
}

TEST(ReferenceOptionsTest, TheShippedExampleParses) {
  absl::StatusOr<ReferenceOptions> options;
  absl::StatusOr<service::ServiceConfig> config = service::LoadServiceConfig(
      "configs/services/reference.example.yaml", [&](config::ConfigMap& root) {
        options.emplace();
        return ParseReferenceSection(root, "configs/services", &*options);
      });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(options->model_path, "models/reference");
}

}  // namespace
}  // namespace plumb::reference
