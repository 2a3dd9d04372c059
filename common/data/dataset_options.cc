#include "common/data/dataset_options.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"

namespace plumb::data {
namespace {

// Absolute paths and an empty base_dir keep the path as written.
std::string Resolve(absl::string_view base_dir, const std::string& path) {
  if (base_dir.empty() || path.empty() || path.front() == '/') return path;
  if (base_dir.back() == '/') return absl::StrCat(base_dir, path);
  return absl::StrCat(base_dir, "/", path);
}

absl::Status ReadFields(config::ConfigMap& section, FormatSpec* spec) {
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> fields, section.Child("fields"));
  if (!fields.has_value()) return absl::OkStatus();
  for (auto& [logical, key] : spec->fields) {
    RETURN_IF_ERROR(fields->Read(logical, &key));
    if (key.empty()) return fields->Error(logical, "the JSON key must not be empty");
  }
  return fields->Finish();
}

absl::Status ReadMargins(config::ConfigMap& section, FormatSpec* spec) {
  std::vector<std::string> labels;
  for (const auto& [label, value] : DefaultMarginLabels()) labels.push_back(label);
  std::vector<std::string> extra_labels;
  RETURN_IF_ERROR(section.Read("margin_labels", &extra_labels));
  labels.insert(labels.end(), extra_labels.begin(), extra_labels.end());
  ASSIGN_OR_RETURN(std::optional<config::ConfigMap> margins, section.Child("margins"));
  if (!margins.has_value()) {
    if (!extra_labels.empty()) {
      return section.Error("margin_labels", "needs a `margins` mapping giving each label a number");
    }
    return absl::OkStatus();
  }
  if (!IsPairFormat(spec->kind)) {
    return section.Error("margins", absl::StrCat("applies only to the pair formats (hh_rlhf, "
                                                 "rm_static, stack_exchange_paired, preference), "
                                                 "not to ",
                                                 FormatName(spec->kind)));
  }
  std::map<std::string, double> table;
  for (const std::string& label : labels) {
    double value = 0;
    RETURN_IF_ERROR(margins->Read(label, &value));  // also marks the label as a known key
    if (margins->Has(label)) table[label] = value;
  }
  if (absl::Status status = margins->Finish(); !status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(status.message(), "; to add a label, also list it in margin_labels"));
  }
  if (table.empty()) return section.Error("margins", "lists no label; remove it for the defaults");
  spec->margins = std::move(table);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DatasetOptions> ParseDatasetOptions(config::ConfigMap& section,
                                                   absl::string_view base_dir) {
  DatasetOptions options;
  std::string path;
  RETURN_IF_ERROR(section.Read("path", &path));
  RETURN_IF_ERROR(section.Read("files", &options.files));
  if (!path.empty() && !options.files.empty()) {
    return section.Error("files", "set either `path` or `files`, not both");
  }
  if (!path.empty()) options.files = {path};
  if (options.files.empty()) {
    return section.Error("files", "no training data; set `path: train.jsonl` or `files: [...]`");
  }
  std::string format_name = std::string(FormatName(options.format.kind));
  RETURN_IF_ERROR(section.ReadChoice("format", &format_name, AllFormatNames()));
  options.format = DefaultFormatSpec(*FormatKindFromName(format_name));
  RETURN_IF_ERROR(ReadFields(section, &options.format));
  RETURN_IF_ERROR(ReadMargins(section, &options.format));

  std::string policy = "stop";
  RETURN_IF_ERROR(section.ReadChoice("on_malformed", &policy, {"stop", "skip"}));
  options.on_malformed = policy == "skip" ? MalformedPolicy::kSkip : MalformedPolicy::kStop;
  RETURN_IF_ERROR(section.Read("max_malformed_fraction", &options.max_malformed_fraction,
                               config::DoubleRange{0, 1}));
  if (section.Has("max_malformed_fraction") && options.on_malformed == MalformedPolicy::kStop) {
    return section.Error("max_malformed_fraction",
                         "only applies with `on_malformed: skip` (stop fails on the first one)");
  }
  RETURN_IF_ERROR(section.Read("shuffle", &options.shuffle));
  int64_t seed = 0;
  RETURN_IF_ERROR(section.Read("seed", &seed, config::IntRange{0, INT64_MAX}));
  options.seed = static_cast<uint64_t>(seed);
  RETURN_IF_ERROR(
      section.Read("eval_fraction", &options.eval_fraction, config::DoubleRange{0, 1, false}));
  if (options.eval_fraction >= 1) {
    return section.Error("eval_fraction", "must be below 1 so that some data is left to train on");
  }
  RETURN_IF_ERROR(section.Read("eval_files", &options.eval_files));
  if (options.eval_fraction > 0 && !options.eval_files.empty()) {
    return section.Error("eval_files", "set either `eval_fraction` or `eval_files`, not both");
  }
  RETURN_IF_ERROR(section.Finish());
  for (std::string& file : options.files) file = Resolve(base_dir, file);
  for (std::string& file : options.eval_files) file = Resolve(base_dir, file);
  return options;
}

}  // namespace plumb::data
