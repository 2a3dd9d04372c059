// Renders metric snapshots in the Prometheus text exposition format, version 0.0.4:
// https://prometheus.io/docs/instrumenting/exposition_formats/
//
// Pure functions of their arguments; safe to call from any thread.
#ifndef PLUMB_COMMON_METRICS_TEXT_FORMAT_H_
#define PLUMB_COMMON_METRICS_TEXT_FORMAT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/metrics/metric_snapshot.h"

namespace plumb::metrics {

// The Content-Type header value for RenderPrometheusText's output.
inline constexpr absl::string_view kPrometheusTextContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// One # HELP and one # TYPE line per family, then its samples; histograms expand to cumulative
// _bucket{le="..."} series ending in le="+Inf", then _sum and _count. Families are written in the
// order given (Registry::Collect sorts them by name), so equal input gives identical output.
std::string RenderPrometheusText(absl::Span<const FamilySnapshot> families);

// A sample value as Prometheus parses it: "+Inf", "-Inf", "NaN"; integral values below 2^53 in
// plain digits ("1000000", not "1e+06"); anything else in the shortest form that round-trips.
std::string FormatPrometheusValue(double value);

// Help text with "\" and newline escaped, as # HELP lines require.
std::string EscapeHelp(absl::string_view help);

// A label value with "\", '"' and newline escaped, as label values require.
std::string EscapeLabelValue(absl::string_view value);

}  // namespace plumb::metrics

#endif  // PLUMB_COMMON_METRICS_TEXT_FORMAT_H_
