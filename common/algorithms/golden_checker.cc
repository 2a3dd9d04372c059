#include "common/algorithms/golden_checker.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>

#include <torch/torch.h>

#include "absl/strings/str_cat.h"

namespace plumb::algorithms::golden {
namespace {

using nlohmann::json;

// Depth-first walk collecting the shape and the flat values of a nested JSON array.
bool Flatten(const json& value, size_t depth, std::vector<int64_t>* shape,
             std::vector<double>* numbers, std::vector<bool>* bools, std::string* error) {
  if (value.is_array()) {
    if (depth == shape->size()) {
      shape->push_back(static_cast<int64_t>(value.size()));
    } else if ((*shape)[depth] != static_cast<int64_t>(value.size())) {
      *error = "ragged array";
      return false;
    }
    for (const json& item : value) {
      if (!Flatten(item, depth + 1, shape, numbers, bools, error)) return false;
    }
    return true;
  }
  if (depth != shape->size()) {
    *error = "ragged array";
    return false;
  }
  if (value.is_boolean()) {
    bools->push_back(value.get<bool>());
  } else if (value.is_number()) {
    numbers->push_back(value.get<double>());
  } else {
    *error = absl::StrCat("unsupported JSON value ", value.dump());
    return false;
  }
  return true;
}

}  // namespace

at::Tensor JsonToTensor(const json& value, std::string* error) {
  std::vector<int64_t> shape;
  std::vector<double> numbers;
  std::vector<bool> bools;
  if (!Flatten(value, 0, &shape, &numbers, &bools, error)) return at::Tensor();
  if (!numbers.empty() && !bools.empty()) {
    *error = "mixes numbers and booleans";
    return at::Tensor();
  }
  if (!bools.empty()) {
    const std::vector<double> as_numbers(bools.begin(), bools.end());
    return torch::tensor(as_numbers, torch::kDouble).to(torch::kBool).reshape(shape).clone();
  }
  return torch::tensor(numbers, torch::kDouble).reshape(shape).clone();
}

CaseContext::CaseContext(const json& test_case, std::string where, FileReport* report,
                         std::vector<std::string>* problems)
    : case_(test_case), where_(std::move(where)), report_(report), problems_(problems) {}

void CaseContext::Fail(const std::string& message) {
  problems_->push_back(absl::StrCat(where_, ": ", message));
}

at::Tensor CaseContext::Input(const std::string& name) {
  read_inputs_.insert(name);
  if (!case_.contains("inputs") || !case_["inputs"].contains(name)) {
    Fail(absl::StrCat("input '", name, "' is missing"));
    return at::Tensor();
  }
  std::string error;
  at::Tensor out = JsonToTensor(case_["inputs"][name], &error);
  if (!out.defined()) Fail(absl::StrCat("input '", name, "': ", error));
  return out;
}

bool CaseContext::HasParam(const std::string& name) const {
  return case_.contains("params") && case_["params"].contains(name);
}

const json& CaseContext::Raw(const std::string& name) {
  consumed_params_.insert(name);
  if (!HasParam(name)) {
    Fail(absl::StrCat("param '", name, "' is missing"));
    return null_;
  }
  return case_["params"][name];
}

double CaseContext::Number(const std::string& name) {
  const json& value = Raw(name);
  if (!value.is_number()) {
    if (HasParam(name))
      Fail(absl::StrCat("param '", name, "' must be a number, got ", value.dump()));
    return 0.0;
  }
  return value.get<double>();
}

bool CaseContext::Bool(const std::string& name) {
  const json& value = Raw(name);
  if (!value.is_boolean()) {
    if (HasParam(name)) Fail(absl::StrCat("param '", name, "' must be a bool, got ", value.dump()));
    return false;
  }
  return value.get<bool>();
}

std::string CaseContext::String(const std::string& name) {
  const json& value = Raw(name);
  if (!value.is_string()) {
    if (HasParam(name))
      Fail(absl::StrCat("param '", name, "' must be a string, got ", value.dump()));
    return "";
  }
  return value.get<std::string>();
}

bool CaseContext::IsNull(const std::string& name) { return Raw(name).is_null(); }

void CaseContext::RequireParam(const std::string& name, const json& only_supported) {
  consumed_params_.insert(name);
  if (!HasParam(name)) return;  // absent: the reference's default, which is the supported one
  const json& value = case_["params"][name];
  if (value != only_supported) {
    Fail(absl::StrCat("param '", name, "' = ", value.dump(), " is not supported (only ",
                      only_supported.dump(), ")"));
  }
}

void CaseContext::Output(const std::string& name, const at::Tensor& value) {
  produced_outputs_.insert(name);
  if (!case_.contains("outputs") || !case_["outputs"].contains(name)) return;
  std::string error;
  const at::Tensor expected = JsonToTensor(case_["outputs"][name], &error);
  if (!expected.defined()) {
    Fail(absl::StrCat("golden output '", name, "': ", error));
    return;
  }
  if (!value.defined()) {
    Fail(absl::StrCat("output '", name, "' was not computed"));
    return;
  }
  if (value.sizes() != expected.sizes()) {
    Fail(absl::StrCat("output '", name, "': shape ", c10::str(value.sizes()), " != golden ",
                      c10::str(expected.sizes())));
    return;
  }
  const at::Tensor a = value.detach().to(at::kCPU, at::kDouble).contiguous().reshape(-1);
  const at::Tensor b = expected.to(at::kDouble).contiguous().reshape(-1);
  const double* pa = a.data_ptr<double>();
  const double* pb = b.data_ptr<double>();
  ++report_->outputs;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double diff = std::abs(pa[i] - pb[i]);
    const double tolerance = std::max(kRelativeTolerance * std::abs(pb[i]), kAbsoluteFloor);
    ++report_->values;
    if (std::abs(pb[i]) > 1e-9) {
      report_->max_relative_error = std::max(report_->max_relative_error, diff / std::abs(pb[i]));
    } else {
      report_->max_abs_error_near_zero = std::max(report_->max_abs_error_near_zero, diff);
    }
    if (!(diff <= tolerance)) {  // NaN fails too
      Fail(absl::StrCat("output '", name, "'[", i, "] = ", pa[i], " but golden ", pb[i],
                        " (|diff| ", diff, " > tolerance ", tolerance, ")"));
    }
  }
}

void CaseContext::Finish() {
  for (const char* section : {"inputs", "params", "outputs"}) {
    if (!case_.contains(section) || !case_[section].is_object()) {
      Fail(absl::StrCat("'", section, "' is missing or not an object"));
      return;
    }
  }
  for (const auto& [key, value] : case_["inputs"].items()) {
    if (!read_inputs_.contains(key))
      Fail(absl::StrCat("input '", key, "' is not read by the handler"));
  }
  for (const auto& [key, value] : case_["params"].items()) {
    if (!consumed_params_.contains(key))
      Fail(absl::StrCat("unknown param '", key, "' = ", value.dump()));
  }
  for (const auto& [key, value] : case_["outputs"].items()) {
    if (!produced_outputs_.contains(key))
      Fail(absl::StrCat("output '", key, "' is not produced by the handler"));
  }
}

const std::map<std::string, Handler>& Handlers() {
  static const std::map<std::string, Handler>* const handlers = [] {
    auto* table = new std::map<std::string, Handler>();
    AddPreferenceHandlers(*table);
    AddRlHandlers(*table);
    return table;
  }();
  return *handlers;
}

CheckReport CheckGoldenDocument(const json& document, const std::string& file) {
  CheckReport report;
  FileReport file_report;
  file_report.file = file;
  auto problem = [&](const std::string& message) {
    report.problems.push_back(absl::StrCat(file, ": ", message));
  };
  if (!document.is_object() || !document.contains("algorithm") ||
      !document["algorithm"].is_string() || !document.contains("cases") ||
      !document["cases"].is_array()) {
    problem("not a golden document (needs string 'algorithm' and array 'cases')");
    report.files.push_back(file_report);
    return report;
  }
  if (document.value("dtype", "") != "float64") {
    problem(absl::StrCat("dtype ", document.value("dtype", "<missing>"), " is not float64"));
  }
  file_report.algorithm = document["algorithm"].get<std::string>();
  const auto it = Handlers().find(file_report.algorithm);
  if (it == Handlers().end()) {
    problem(absl::StrCat("unknown algorithm '", file_report.algorithm, "'"));
  } else if (document["cases"].empty()) {
    problem("no cases");
  } else {
    for (const json& test_case : document["cases"]) {
      const std::string where =
          absl::StrCat(file, " case '", test_case.value("name", "<unnamed>"), "'");
      CaseContext context(test_case, where, &file_report, &report.problems);
      try {
        it->second(context);
      } catch (const std::exception& e) {
        context.Fail(absl::StrCat("handler threw: ", e.what()));
      }
      context.Finish();
      ++file_report.cases;
    }
  }
  report.files.push_back(file_report);
  return report;
}

CheckReport CheckGoldenDirectory(const std::string& dir) {
  CheckReport report;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    report.problems.push_back(absl::StrCat("golden directory '", dir, "' does not exist"));
    return report;
  }
  std::vector<std::filesystem::path> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) {
    report.problems.push_back(absl::StrCat("golden directory '", dir, "' has no *.json files"));
    return report;
  }
  for (const auto& path : paths) {
    const std::string name = path.filename().string();
    std::ifstream in(path);
    json document = json::parse(in, /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) {
      report.problems.push_back(absl::StrCat(name, ": not valid JSON"));
      continue;
    }
    CheckReport one = CheckGoldenDocument(document, name);
    report.files.insert(report.files.end(), one.files.begin(), one.files.end());
    report.problems.insert(report.problems.end(), one.problems.begin(), one.problems.end());
  }
  return report;
}

std::string DefaultGoldenDir() {
  if (const char* dir = std::getenv("PLUMB_GOLDEN_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (const char* source = std::getenv("PLUMB_SOURCE_DIR"); source != nullptr && *source != '\0') {
    return (std::filesystem::path(source) / ".." / "shared" / "golden").lexically_normal().string();
  }
  return "../shared/golden";
}

}  // namespace plumb::algorithms::golden
