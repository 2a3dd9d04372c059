#include "services/plumb-generator/generator_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/service/service_config.h"

namespace plumb::generator {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<GeneratorOptions> Parse(const std::string& yaml) {
  absl::StatusOr<config::ConfigMap> root = config::ConfigMap::FromString(yaml, "ref.yaml");
  if (!root.ok()) return root.status();
  GeneratorOptions options;
  absl::StatusOr<service::ServiceConfig> config = service::ParseServiceConfig(
      *root, [&](config::ConfigMap& map) { return ParseGeneratorSection(map, "/srv", &options); });
  if (!config.ok()) return config.status();
  return options;
}

TEST(GeneratorOptionsTest, ReadsTheSectionWithDefaultsAndResolvesThePath) {
  absl::StatusOr<GeneratorOptions> o =
      Parse("generator:\n  model: {path: models/ref, dtype: bf16}\n  max_batch_size: 4\n");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->model_path, "/srv/models/ref");
  EXPECT_EQ(o->dtype, "bf16");
  EXPECT_EQ(o->limits.max_batch_size, 4);
  EXPECT_EQ(o->limits.max_prompts_per_request, 256);
  EXPECT_EQ(o->limits.queue_capacity, 1024);
}

TEST(GeneratorOptionsTest, MistakesNameTheKey) {
  EXPECT_THAT(std::string(Parse("server: {}\n").status().message()),
              HasSubstr("key 'generator': is required"));
  EXPECT_THAT(std::string(Parse("generator: {model: {dtype: fp32}}\n").status().message()),
              HasSubstr("key 'generator.model.path': is required"));
  EXPECT_THAT(
      std::string(Parse("generator: {model: {path: m}, max_batch_size: 0}\n").status().message()),
      HasSubstr("ref.yaml:1: key 'generator.max_batch_size'"));
  EXPECT_THAT(
      std::string(Parse("generator: {model: {path: m}, max_batch: 2}\n").status().message()),
      HasSubstr("key 'generator.max_batch': unknown key"));
}

TEST(GeneratorOptionsTest, TheShippedExampleParses) {
  absl::StatusOr<GeneratorOptions> options;
  absl::StatusOr<service::ServiceConfig> config = service::LoadServiceConfig(
      "configs/services/generator.example.yaml", [&](config::ConfigMap& root) {
        options.emplace();
        return ParseGeneratorSection(root, "configs/services", &*options);
      });
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(options->model_path, "models/policy");
}

}  // namespace
}  // namespace plumb::generator
