// Fixtures for the scorer core's tests: tiny reward models written as model folders, and
// fresh temporary folders.
//
// Thread safety: test-only helpers, called from the test's main thread.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_SCORER_TEST_UTIL_H_
#define PLUMB_SERVICES_PLUMB_SCORER_SCORER_TEST_UTIL_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/model/model_config.h"
#include "common/model/transformer.h"
#include "services/plumb-scorer/scorer.h"

namespace plumb::scorer::testing {

// A fresh, empty folder under the test's temporary directory.
std::filesystem::path FreshDir(const std::string& name);

// vocab 259 (the byte tokenizer's), 2 layers, hidden 32, context 32, `outputs` reward outputs.
model::ModelConfig TinyRewardConfig(int64_t outputs = 2);

// A randomly initialised model (seeded), with a reward head of non-trivial scale.
model::Transformer MakeTinyRewardModel(uint64_t seed, int64_t outputs = 2);

// Saves MakeTinyRewardModel(seed, outputs) into `dir` (config.json + model.safetensors).
void WriteTinyRewardModel(const std::filesystem::path& dir, uint64_t seed, int64_t outputs = 2);

// Loads `model`'s weights into objective `objective` as version `version`, the way a LoadWeights
// stream ends (Scorer::ModelForWeights, then VersionedModel::Apply).
absl::Status SwapWeights(Scorer& scorer, const std::string& objective, model::Transformer& model,
                         uint64_t version, const std::string& source);

// The reward head's `output` at the last token of `ids`, from one plain forward pass.
double DirectReward(model::Transformer& model, const std::vector<int64_t>& ids, int output);

}  // namespace plumb::scorer::testing

#endif  // PLUMB_SERVICES_PLUMB_SCORER_SCORER_TEST_UTIL_H_
