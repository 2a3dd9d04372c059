#include "services/plumb-scorer/objective.h"

#include "absl/strings/str_cat.h"

namespace plumb::scorer {

ScoringObjective::ScoringObjective(const ObjectiveOptions& options)
    : name_(options.name),
      kind_(options.kind != nullptr ? options.kind->name : ""),
      category_(options.kind != nullptr ? options.kind->category : ObjectiveCategory::kRule),
      mean_(options.mean),
      stddev_(options.stddev) {}

ObjectiveDescription ScoringObjective::CommonDescription() const {
  return ObjectiveDescription{
      .name = name_, .kind = kind_, .category = category_, .mean = mean_, .stddev = stddev_};
}

absl::StatusOr<weights::VersionedModel*> ScoringObjective::ModelForWeights() {
  return absl::FailedPreconditionError(absl::StrCat("objective '", name_,
                                                    "' is not model-backed (kind ", kind_,
                                                    ") and takes no weights; only reward_model "
                                                    "objectives do"));
}

absl::StatusOr<std::unique_ptr<ScoringObjective>> CreateObjective(const ObjectiveOptions& options,
                                                                  int max_batch_size) {
  if (options.kind == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("objective '", options.name, "': no kind set"));
  }
  return options.kind->create(options, max_batch_size);
}

}  // namespace plumb::scorer
