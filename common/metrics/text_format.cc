#include "common/metrics/text_format.h"

#include <charconv>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace plumb::metrics {
namespace {

// Integers up to here are exact in a double, so printing them without an exponent loses nothing.
constexpr double kMaxExactInteger = 9007199254740992.0;  // 2^53

// Appends `{a="x",b="y"}` (nothing when there are no labels). `extra_name` (the histogram's "le")
// goes last when it is not empty.
void AppendLabels(std::string* out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, absl::string_view extra_name = {},
                  absl::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out->push_back(',');
    absl::StrAppend(out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out->push_back(',');
    absl::StrAppend(out, extra_name, "=\"", extra_value, "\"");
  }
  out->push_back('}');
}

void AppendSample(std::string* out, absl::string_view name, const FamilySnapshot& family,
                  const SampleSnapshot& sample, absl::string_view value) {
  absl::StrAppend(out, name);
  AppendLabels(out, family.label_names, sample.label_values);
  absl::StrAppend(out, " ", value, "\n");
}

void AppendHistogram(std::string* out, const FamilySnapshot& family, const SampleSnapshot& sample) {
  const HistogramSnapshot& histogram = sample.histogram;
  const std::string bucket_name = absl::StrCat(family.name, "_bucket");
  for (size_t i = 0; i < histogram.cumulative_counts.size(); ++i) {
    const bool is_inf = i == histogram.upper_bounds.size();
    absl::StrAppend(out, bucket_name);
    AppendLabels(out, family.label_names, sample.label_values, "le",
                 is_inf ? "+Inf" : FormatPrometheusValue(histogram.upper_bounds[i]));
    absl::StrAppend(out, " ", histogram.cumulative_counts[i], "\n");
  }
  const uint64_t count =
      histogram.cumulative_counts.empty() ? 0 : histogram.cumulative_counts.back();
  AppendSample(out, absl::StrCat(family.name, "_sum"), family, sample,
               FormatPrometheusValue(histogram.sum));
  AppendSample(out, absl::StrCat(family.name, "_count"), family, sample, absl::StrCat(count));
}

}  // namespace

std::string FormatPrometheusValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == 0) return "0";  // Also turns -0 into 0.
  char buffer[64];
  const bool plain_integer = value == std::trunc(value) && std::fabs(value) <= kMaxExactInteger;
  const std::to_chars_result result =
      plain_integer
          ? std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::fixed)
          : std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '"') {
      out.append("\\\"");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string RenderPrometheusText(absl::Span<const FamilySnapshot> families) {
  std::string out;
  for (const FamilySnapshot& family : families) {
    absl::StrAppend(&out, "# HELP ", family.name, " ", EscapeHelp(family.help), "\n");
    absl::StrAppend(&out, "# TYPE ", family.name, " ", MetricTypeName(family.type), "\n");
    for (const SampleSnapshot& sample : family.samples) {
      if (family.type == MetricType::kHistogram) {
        AppendHistogram(&out, family, sample);
      } else {
        AppendSample(&out, family.name, family, sample, FormatPrometheusValue(sample.value));
      }
    }
  }
  return out;
}

}  // namespace plumb::metrics
