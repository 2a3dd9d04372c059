#include "common/checkpoint/parameter_check.h"

#include <ATen/ATen.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb::checkpoint {
namespace {

bool Convertible(c10::ScalarType from, c10::ScalarType to) {
  return from == to || (c10::isFloatingType(from) && c10::isFloatingType(to));
}

bool Ignored(const std::string& name, const ParameterCheckOptions& options) {
  for (const std::string& suffix : options.ignored_suffixes) {
    if (absl::EndsWith(name, suffix)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<TensorMap> CheckAndConvertParameters(TensorMap loaded,
                                                    const ExpectedParameters& expected,
                                                    const ParameterCheckOptions& options) {
  const std::string prefix = options.checkpoint.empty()
                                 ? "checkpoint: "
                                 : absl::StrCat("checkpoint ", options.checkpoint, ": ");
  const std::string& source = options.expectation_source;
  std::vector<std::string> problems;
  for (const auto& [name, want] : expected) {
    auto found = loaded.find(name);
    if (found == loaded.end()) {
      problems.push_back(absl::StrCat(prefix, "tensor '", name, "' is missing (", source,
                                      " expects shape ", FormatShape(want.shape), ")"));
      continue;
    }
    const at::Tensor& tensor = found->second;
    if (tensor.sizes() != c10::IntArrayRef(want.shape)) {
      problems.push_back(absl::StrCat(prefix, "tensor '", name, "' has shape ",
                                      FormatShape(tensor.sizes()), ", ", source, " says ",
                                      FormatShape(want.shape)));
    } else if (!Convertible(tensor.scalar_type(), want.dtype)) {
      problems.push_back(absl::StrCat(prefix, "tensor '", name, "' is ",
                                      c10::toString(tensor.scalar_type()),
                                      " and cannot be converted to ", c10::toString(want.dtype)));
    }
  }
  for (const auto& [name, tensor] : loaded) {
    if (expected.contains(name) || Ignored(name, options)) continue;
    problems.push_back(absl::StrCat(prefix, "unexpected tensor '", name, "' with shape ",
                                    FormatShape(tensor.sizes()), " (not a parameter ", source,
                                    " implies)"));
  }
  if (!problems.empty()) {
    const size_t shown =
        std::min(problems.size(), std::max<size_t>(options.max_reported_problems, 1));
    std::string message = absl::StrJoin(problems.begin(), problems.begin() + shown, "\n");
    if (shown < problems.size())
      absl::StrAppend(&message, "\n... and ", problems.size() - shown, " more");
    return absl::InvalidArgumentError(message);
  }

  TensorMap converted;
  for (const auto& [name, want] : expected) {
    at::Tensor& tensor = loaded.at(name);
    // Kept apart from the model boundary: names the tensor that cannot be converted.
    try {
      converted.emplace(name, tensor.to(want.dtype));
    } catch (const std::exception& e) {  // c10::Error or std::bad_alloc
      return absl::ResourceExhaustedError(absl::StrCat(prefix, "tensor '", name,
                                                       "': cannot convert to ",
                                                       c10::toString(want.dtype), ": ", e.what()));
    }
    tensor = at::Tensor();  // free the source early when it was converted
  }
  return converted;
}

}  // namespace plumb::checkpoint
