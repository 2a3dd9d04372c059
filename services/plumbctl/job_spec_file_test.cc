#include "services/plumbctl/job_spec_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "services/plumbctl/plumbctl_test_util.h"
#include "services/plumbctl/proto_enum_text.h"

namespace plumb::plumbctl {
namespace {

using ::testing::HasSubstr;

TEST(JobSpecFileTest, YamlScalarsBecomeTheFieldsTypes) {
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecFileText(
      "name: '123'\nkind: JOB_KIND_DPO\npriority: -3\nseed: 42\n"
      "deadline: 3600s\nstages:\n  - {name: dpo, rounds: 2}\n",
      "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "123");  // quoted: a string, though it looks like a number
  EXPECT_EQ(spec->kind(), v1::JOB_KIND_DPO);
  EXPECT_EQ(spec->priority(), -3);
  EXPECT_EQ(spec->seed(), 42u);
  EXPECT_EQ(spec->deadline().seconds(), 3600);
  EXPECT_EQ(spec->stages(0).rounds(), 2);
}

TEST(JobSpecFileTest, JsonIsReadAsIs) {
  absl::StatusOr<v1::JobSpec> spec =
      ParseJobSpecFileText(R"({"name": "j", "stages": [{"epochs": 3}]})", "job.json");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->stages(0).epochs(), 3);
}

TEST(JobSpecFileTest, AYamlFlowMappingIsNotMistakenForJson) {
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecFileText("{name: j, iterations: 2}", "job.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->iterations(), 2);
}

TEST(JobSpecFileTest, ErrorsNameTheFile) {
  EXPECT_THAT(ParseJobSpecFileText("name: [unclosed\n", "bad.yaml").status().message(),
              HasSubstr("bad.yaml:"));
  EXPECT_THAT(ParseJobSpecFileText("kind: JOB_KIND_NOPE\n", "k.yaml").status().message(),
              HasSubstr("k.yaml: not a valid JobSpec"));
  EXPECT_THAT(ParseJobSpecFileText("- a\n- b\n", "list.yaml").status().message(),
              HasSubstr("mapping"));
  EXPECT_EQ(LoadJobSpecFile("/nonexistent/job.yaml").status().code(), absl::StatusCode::kNotFound);
}

TEST(JobSpecFileTest, AliasBombsAreBounded) {
  // Each level doubles the tree: 2^30 values after expansion from a few hundred bytes.
  std::string yaml = "a0: &a0 [x, x]\n";
  for (int i = 1; i <= 30; ++i) {
    absl::StrAppend(&yaml, "a", i, ": &a", i, " [*a", i - 1, ", *a", i - 1, "]\n");
  }
  absl::StatusOr<v1::JobSpec> spec = ParseJobSpecFileText(yaml, "bomb.yaml");
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(spec.status().message(), HasSubstr("more than"));
}

TEST(JobSpecFileTest, DeepNestingIsRefused) {
  std::string yaml = "name: " + std::string(100, '[') + std::string(100, ']') + "\n";
  EXPECT_THAT(ParseJobSpecFileText(yaml, "deep.yaml").status().message(),
              HasSubstr("nested deeper than"));
}

TEST(ProtoEnumTextTest, AcceptsShortAndFullNamesInAnyCase) {
  EXPECT_EQ(*ParseEnumText(v1::JobState_descriptor(), "running", "--state"), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(*ParseEnumText(v1::JobKind_descriptor(), "JOB_KIND_ONLINE_DPO", "--kind"),
            v1::JOB_KIND_ONLINE_DPO);
  EXPECT_EQ(*ParseEnumText(v1::WorkerRole_descriptor(), "Scorer", "--role"),
            v1::WORKER_ROLE_SCORER);
  EXPECT_FALSE(ParseEnumText(v1::JobState_descriptor(), "unspecified", "--state").ok());
  EXPECT_EQ(EnumText(v1::JobState_descriptor(), v1::JOB_STATE_CANCELLED), "CANCELLED");
  EXPECT_EQ(EnumText(v1::JobState_descriptor(), 99), "99");
}

}  // namespace
}  // namespace plumb::plumbctl
