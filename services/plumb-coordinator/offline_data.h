// The training data of an offline stage (SFT, REWARD_MODEL, OFFLINE_PREFERENCE): read from the
// stage's train_data once when the stage starts, kept as text, and turned into the token ids of
// one Train batch at a time. The learner keeps no dataset: the coordinator streams it.
//
// Order: step s of the stage is batch s % steps_per_epoch of epoch s / steps_per_epoch; each epoch
// visits every entry once in a permutation seeded by (seed, epoch); the epoch's last batch may be
// short. The batch of a step is a function of (data, seed, step) alone, so a stage resumed at its
// data cursor (the next step) trains on exactly the examples it had not trained on.
//
// Encoding: the policy's tokenizer with the job's TokenizationPlan (common/train's ExampleEncoder:
// BOS on the prompt, EOS on responses unless disabled, the prompt cut from its start and the
// response from its end past max_length, cuts counted).
//
// Thread safety: immutable after Load; Batch may be called from several threads.
#ifndef PLUMB_SERVICES_PLUMB_COORDINATOR_OFFLINE_DATA_H_
#define PLUMB_SERVICES_PLUMB_COORDINATOR_OFFLINE_DATA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clients/learner_client.h"
#include "common/data/example.h"
#include "common/tokenizer/tokenizer.h"
#include "common/train/example_encoder.h"
#include "services/plumb-coordinator/job_plan.h"

namespace plumb::coordinator {

inline constexpr int64_t kMaxOfflineExamples = int64_t{1} << 24;

// What kind of Train batch an offline stage's data makes (by its dataset format).
enum class OfflineBatchKind { kSft, kPreference, kUnpaired, kRanked };

struct OfflineBatch {
  clients::TrainBatch batch;
  int64_t examples = 0;       // items in the batch (examples, pairs or groups)
  int64_t prompts_cut = 0;    // sequences whose prompt lost its start to max_length
  int64_t responses_cut = 0;  // ... whose response lost its end
};

class OfflineData {
 public:
  // Reads every source (each capped at max_examples, weighted, the prompt template applied to its
  // prompts). Sources must make the same batch kind. Errors name the file and line:
  // INVALID_ARGUMENT for a malformed line, NOT_FOUND for a missing file, RESOURCE_EXHAUSTED past
  // kMaxOfflineExamples, INVALID_ARGUMENT when no example is left.
  static absl::StatusOr<std::unique_ptr<OfflineData>> Load(
      const std::vector<DatasetSource>& sources,
      std::shared_ptr<const tokenizer::Tokenizer> tokenizer, const TokenizationPlan& tokenization);

  OfflineBatchKind kind() const { return kind_; }
  // Entries in one epoch (after weights).
  int64_t size() const { return static_cast<int64_t>(pool_.size()); }
  int64_t StepsPerEpoch(int64_t batch_size) const;
  // The batch of `step` (see above); item ids are "<id_prefix>/<epoch>.<position>".
  absl::StatusOr<OfflineBatch> Batch(uint64_t seed, int64_t step, int64_t batch_size,
                                     const std::string& id_prefix) const;

 private:
  OfflineData(OfflineBatchKind kind, std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
              train::EncoderOptions options)
      : kind_(kind), encoder_(std::move(tokenizer), std::move(options)) {}

  OfflineBatchKind kind_;
  train::ExampleEncoder encoder_;
  std::vector<data::Example> examples_;
  std::vector<uint32_t> pool_;  // indices into examples_, one epoch's entries
};

// The tokenizer a TokenizationPlan names ("byte" or a path LoadTokenizer reads).
absl::StatusOr<std::shared_ptr<const tokenizer::Tokenizer>> LoadPlanTokenizer(
    const TokenizationPlan& tokenization);

}  // namespace plumb::coordinator

#endif  // PLUMB_SERVICES_PLUMB_COORDINATOR_OFFLINE_DATA_H_
