#include "common/metrics/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace plumb::metrics {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double ProcessCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// Name -> value of every unlabelled sample.
std::map<std::string, double> Values(const Registry& registry) {
  std::map<std::string, double> values;
  for (const FamilySnapshot& family : registry.Collect()) {
    if (family.samples.size() == 1) values[family.name] = family.samples[0].value;
  }
  return values;
}

TEST(ProcessMetricsTest, RegistersTheStandardProcessMetricsWithSaneValues) {
  Registry registry;
  ASSERT_TRUE(RegisterProcessMetrics(&registry).ok());
  std::map<std::string, double> values = Values(registry);
  ASSERT_EQ(values.size(), 6u);
  EXPECT_GE(values.at("process_cpu_seconds_total"), 0);
  EXPECT_GT(values.at("process_resident_memory_bytes"), 1e5);
  EXPECT_GE(values.at("process_virtual_memory_bytes"), values.at("process_resident_memory_bytes"));
  EXPECT_NEAR(values.at("process_start_time_seconds"), NowSeconds(), 600);
  EXPECT_LE(values.at("process_start_time_seconds"), NowSeconds() + 1);
  EXPECT_GE(values.at("process_open_fds"), 3);
  EXPECT_GE(values.at("process_max_fds"), values.at("process_open_fds"));
}

TEST(ProcessMetricsTest, CpuSecondsGrowWhileTheProcessComputes) {
  Registry registry;
  ASSERT_TRUE(RegisterProcessMetrics(&registry).ok());
  const double before = Values(registry).at("process_cpu_seconds_total");
  // Burn 0.3 s of CPU as the kernel measures it, however busy the machine is.
  const double cpu_start = ProcessCpuSeconds();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  volatile double sink = 0;
  while (ProcessCpuSeconds() - cpu_start < 0.3 && std::chrono::steady_clock::now() < give_up) {
    for (int i = 0; i < 10000; ++i) sink = sink + i;
  }
  // /proc counts in clock ticks (usually 10 ms), hence the margin.
  EXPECT_GE(Values(registry).at("process_cpu_seconds_total"), before + 0.25);
}

TEST(ProcessMetricsTest, OpenFdsFollowFilesTheProcessOpens) {
  Registry registry;
  ASSERT_TRUE(RegisterProcessMetrics(&registry).ok());
  const double before = Values(registry).at("process_open_fds");
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) fds.push_back(open("/dev/null", O_RDONLY));
  const double during = Values(registry).at("process_open_fds");
  for (int fd : fds) close(fd);
  EXPECT_EQ(during, before + 10);
}

}  // namespace
}  // namespace plumb::metrics
