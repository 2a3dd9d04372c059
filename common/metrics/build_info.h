// plumb_build_info{version="...",component="..."} 1: lets dashboards show, and queries join on,
// the version each process runs.
#ifndef PLUMB_COMMON_METRICS_BUILD_INFO_H_
#define PLUMB_COMMON_METRICS_BUILD_INFO_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/metrics/registry.h"

namespace plumb::metrics {

// Sets plumb_build_info{version=`version`,component=`component`} to 1 in `registry`. The caller
// passes the version (usually PROJECT_VERSION or a git describe baked in at build time) and the
// component ("sampler", "trainer", ...).
absl::Status RegisterBuildInfo(Registry* registry, absl::string_view version,
                               absl::string_view component);

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_BUILD_INFO_H_
