#include "services/plumb-coordinator/record_json.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/json/parse_json.h"
#include "common/status/status_macros.h"

namespace plumb::coordinator {
namespace {

absl::StatusOr<std::string> Dump(const nlohmann::json& object, absl::string_view field) {
  try {
    return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": a key or value is not valid UTF-8"));
  }
}

absl::StatusOr<nlohmann::json> ParseObject(absl::string_view text, absl::string_view source) {
  const std::string where(source);
  ASSIGN_OR_RETURN(
      nlohmann::json object,
      json_input::ParseJson(
          text, {.source = where, .error_code = absl::StatusCode::kDataLoss, .max_depth = 2}));
  if (!object.is_object()) {
    return absl::DataLossError(
        absl::StrCat(source, ": stored ", json_input::JsonTypeName(object), ", not an object"));
  }
  return object;
}

}  // namespace

absl::StatusOr<std::string> EncodeMetrics(const MetricMap& metrics, absl::string_view field) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : metrics) {
    if (std::isnan(value)) {
      object[name] = "NaN";
    } else if (std::isinf(value)) {
      object[name] = value > 0 ? "Infinity" : "-Infinity";
    } else {
      object[name] = value;
    }
  }
  return Dump(object, absl::StrCat(field, ".metrics"));
}

absl::StatusOr<std::string> EncodeLabels(const LabelMap& labels, absl::string_view field) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : labels) object[key] = value;
  return Dump(object, absl::StrCat(field, ".labels"));
}

absl::StatusOr<MetricMap> DecodeMetrics(absl::string_view text, absl::string_view source) {
  ASSIGN_OR_RETURN(nlohmann::json object, ParseObject(text, source));
  MetricMap metrics;
  for (const auto& [name, value] : object.items()) {
    if (value.is_number()) {
      metrics[name] = value.get<double>();
    } else if (value == "NaN") {
      metrics[name] = std::numeric_limits<double>::quiet_NaN();
    } else if (value == "Infinity") {
      metrics[name] = std::numeric_limits<double>::infinity();
    } else if (value == "-Infinity") {
      metrics[name] = -std::numeric_limits<double>::infinity();
    } else {
      return absl::DataLossError(
          absl::StrCat(source, ": metric '", name, "' holds ", json_input::EchoJson(value)));
    }
  }
  return metrics;
}

absl::StatusOr<LabelMap> DecodeLabels(absl::string_view text, absl::string_view source) {
  ASSIGN_OR_RETURN(nlohmann::json object, ParseObject(text, source));
  LabelMap labels;
  for (const auto& [key, value] : object.items()) {
    if (!value.is_string()) {
      return absl::DataLossError(
          absl::StrCat(source, ": label '", key, "' holds ", json_input::EchoJson(value)));
    }
    labels[key] = value.get<std::string>();
  }
  return labels;
}

}  // namespace plumb::coordinator
