#include "common/api/learner_algorithm_kind.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/echo.h"

namespace plumb::learner {

const char* TrainBatchKindName(TrainBatchKind batch) {
  switch (batch) {
    case TrainBatchKind::kExperience:
      return "experience";
    case TrainBatchKind::kPreference:
      return "preference";
    case TrainBatchKind::kSft:
      return "SFT";
    case TrainBatchKind::kUnpaired:
      return "unpaired";
    case TrainBatchKind::kRanked:
      return "ranked";
  }
  return "unknown";
}

bool LearnerAlgorithmKind::Takes(TrainBatchKind batch) const {
  return std::find(batches.begin(), batches.end(), batch) != batches.end();
}

absl::Status LearnerAlgorithmRegistry::Add(LearnerAlgorithmKind kind) {
  if (kind.name.empty() || kind.label.empty() || kind.batches.empty()) {
    return absl::InvalidArgumentError("a learner algorithm kind needs a name, a label and batches");
  }
  if (kind.Takes(TrainBatchKind::kExperience) != (kind.rollout_update != RolloutUpdate::kNone)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "learner algorithm '", kind.name, "': a rollout update iff it takes experience batches"));
  }
  for (const auto& known : kinds_) {
    if (known->algorithm == kind.algorithm || known->name == kind.name) {
      return absl::InvalidArgumentError(
          absl::StrCat("learner algorithm '", kind.name, "' (", static_cast<int>(kind.algorithm),
                       ") is registered already as '", known->name, "'"));
    }
  }
  kinds_.push_back(std::make_shared<const LearnerAlgorithmKind>(std::move(kind)));
  return absl::OkStatus();
}

absl::StatusOr<const LearnerAlgorithmKind*> LearnerAlgorithmRegistry::Find(
    Algorithm algorithm) const {
  for (const auto& kind : kinds_) {
    if (kind->algorithm == algorithm) return kind.get();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("config.algorithm: unknown value ", static_cast<int>(algorithm)));
}

absl::StatusOr<const LearnerAlgorithmKind*> LearnerAlgorithmRegistry::Find(
    absl::string_view name) const {
  std::vector<std::string> names;
  for (const auto& kind : kinds_) {
    if (kind->name == name) return kind.get();
    names.push_back(kind->name);
  }
  return absl::InvalidArgumentError(absl::StrCat("config.algorithm: unknown algorithm ",
                                                 Echo(std::string(name)),
                                                 " (known: ", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<const LearnerAlgorithmKind*> LearnerAlgorithmOf(Algorithm algorithm) {
  return BuiltinLearnerAlgorithms().Find(algorithm);
}

}  // namespace plumb::learner
