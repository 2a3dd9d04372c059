#include "common/metrics/build_info.h"

#include "common/status/status_macros.h"

namespace plumb::metrics {

absl::Status RegisterBuildInfo(Registry* registry, absl::string_view version,
                               absl::string_view component) {
  ASSIGN_OR_RETURN(
      GaugeFamily * build_info,
      registry->AddGauge("plumb_build_info", "Always 1; the labels name the running build.",
                         {"version", "component"}));
  build_info->WithLabels({version, component}).Set(1);
  return absl::OkStatus();
}

}  // namespace plumb::metrics
