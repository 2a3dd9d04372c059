// Conformance checker for the golden vectors in ../shared/golden (schema
// {algorithm, reference, dtype, conventions, cases: [{name, seed, inputs, params, outputs}]}).
// Each `algorithm` string has one handler that reads the case's inputs and params through a
// CaseContext, calls plumb_algorithms in float64, and reports its outputs. Nothing is skipped:
// an unknown algorithm, an unread input, an unconsumed or unsupported param, or a listed output
// the handler does not produce is a problem. The checker returns problems (no gtest inside), so
// tests can assert that a bad file is rejected.
//
// Tolerance: a produced value a passes against the golden b iff |a - b| <= max(1e-6 |b|, 1e-12)
// (relative 1e-6, with an absolute floor of 1e-12 for golden values that are ~0).
#ifndef PLUMB_COMMON_ALGORITHMS_GOLDEN_CHECKER_H_
#define PLUMB_COMMON_ALGORITHMS_GOLDEN_CHECKER_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

namespace plumb::algorithms::golden {

inline constexpr double kRelativeTolerance = 1e-6;
inline constexpr double kAbsoluteFloor = 1e-12;

struct FileReport {
  std::string file;
  std::string algorithm;
  int cases = 0;
  int outputs = 0;                       // output keys compared
  int values = 0;                        // scalar values compared
  double max_relative_error = 0.0;       // over golden values with |b| > 1e-9
  double max_abs_error_near_zero = 0.0;  // over golden values with |b| <= 1e-9
};

struct CheckReport {
  std::vector<FileReport> files;
  std::vector<std::string> problems;  // each names file / case / key
};

// One case seen by a handler. Accessors record what was read; Finish() reports the rest.
class CaseContext {
 public:
  CaseContext(const nlohmann::json& test_case, std::string where, FileReport* report,
              std::vector<std::string>* problems);

  // Input as a float64 tensor (bool for all-boolean arrays). Missing -> problem, empty tensor.
  at::Tensor Input(const std::string& name);
  // Params. Missing or of the wrong JSON type -> problem and a zero value.
  double Number(const std::string& name);
  bool Bool(const std::string& name);
  std::string String(const std::string& name);
  bool IsNull(const std::string& name);  // consumes the param
  const nlohmann::json& Raw(const std::string& name);
  bool HasParam(const std::string& name) const;
  // The param, if present, must equal `only_supported` (a value that switches a feature off or
  // selects the one supported behaviour); anything else is a problem. Absent is accepted.
  void RequireParam(const std::string& name, const nlohmann::json& only_supported);

  // Compares a produced output with the golden one (if listed) and records it as produced.
  void Output(const std::string& name, const at::Tensor& value);
  void Fail(const std::string& message);

  // Problems for unread inputs, unconsumed params and listed outputs never produced.
  void Finish();

 private:
  const nlohmann::json& case_;
  std::string where_;
  FileReport* report_;
  std::vector<std::string>* problems_;
  std::set<std::string> read_inputs_, consumed_params_, produced_outputs_;
  nlohmann::json null_;
};

using Handler = std::function<void(CaseContext&)>;

// algorithm string -> handler, for every algorithm in the golden files.
const std::map<std::string, Handler>& Handlers();
void AddPreferenceHandlers(std::map<std::string, Handler>& handlers);
void AddRlHandlers(std::map<std::string, Handler>& handlers);

// JSON (nested arrays of numbers or booleans) -> tensor; sets *error on malformed input.
at::Tensor JsonToTensor(const nlohmann::json& value, std::string* error);

// Checks one parsed document; `file` labels the problems.
CheckReport CheckGoldenDocument(const nlohmann::json& document, const std::string& file);
// Every *.json in `dir` (sorted); a missing directory or one without files is a problem.
CheckReport CheckGoldenDirectory(const std::string& dir);

// $PLUMB_GOLDEN_DIR, else $PLUMB_SOURCE_DIR/../shared/golden, else ../shared/golden.
std::string DefaultGoldenDir();

}  // namespace plumb::algorithms::golden

#endif  // PLUMB_COMMON_ALGORITHMS_GOLDEN_CHECKER_H_
