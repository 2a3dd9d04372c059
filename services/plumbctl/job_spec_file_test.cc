#include "services/plumbctl/job_spec_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "services/plumbctl/plumbctl_test_util.h"
#include "services/plumbctl/proto_enum_text.h"

namespace plumb::plumbctl {
namespace {

using ::testing::HasSubstr;

// The YAML details (scalar types, anchors, depth, sizes) are the coordinator's reader's and are
// tested there (job_spec_reader_test); here, that plumbctl reads a file through it.
TEST(JobSpecFileTest, AFileIsReadThroughTheCoordinatorsReader) {
  const std::string dir = ::testing::TempDir();
  const std::string good = absl::StrCat(dir, "/plumbctl_job_", getpid(), ".yaml");
  {
    std::ofstream out(good);
    out << "name: '123'\nkind: JOB_KIND_PPO\nseed: 18446744073709551615\n"
           "stages:\n  - {name: rl, rounds: 2}\n";
  }
  absl::StatusOr<v1::JobSpec> spec = LoadJobSpecFile(good);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "123");
  EXPECT_EQ(spec->kind(), v1::JOB_KIND_PPO);
  EXPECT_EQ(spec->seed(), 18446744073709551615u);
  EXPECT_EQ(spec->stages(0).rounds(), 2);

  const std::string bad = absl::StrCat(dir, "/plumbctl_bad_", getpid(), ".yaml");
  {
    std::ofstream out(bad);
    out << "name: j\ncolour: blue\n";
  }
  absl::StatusOr<v1::JobSpec> refused = LoadJobSpecFile(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr(bad));
  EXPECT_THAT(refused.status().message(), HasSubstr("colour"));
  EXPECT_EQ(LoadJobSpecFile("/nonexistent/job.yaml").status().code(), absl::StatusCode::kNotFound);
  std::remove(good.c_str());
  std::remove(bad.c_str());
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
