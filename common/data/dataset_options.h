// Options of a JSONL dataset and how they are read from YAML config, e.g.
//   data:
//     files: [train-00.jsonl, train-01.jsonl]   # or `path: train.jsonl`
//     format: stack_exchange_paired
//     fields: {prompt: question}                # logical name -> JSON key
//     margins: {significantly_better: 1.0, better: 0.667, slightly_better: 0.333,
//               negligibly_better: 0.0}
//     on_malformed: skip
//     max_malformed_fraction: 0.01
//     shuffle: true
//     seed: 1234
//     eval_fraction: 0.05                       # or eval_files: [heldout.jsonl]
//
// Thread safety: plain values.
#ifndef PLUMB_COMMON_DATA_DATASET_OPTIONS_H_
#define PLUMB_COMMON_DATA_DATASET_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/config/config_map.h"
#include "common/data/line_format.h"

namespace plumb::data {

enum class MalformedPolicy {
  kStop,  // the first malformed line is a fatal INVALID_ARGUMENT error ("FILE:LINE: REASON")
  kSkip,  // malformed lines are skipped, counted per reason, and the first few messages kept
};

struct DatasetOptions {
  std::vector<std::string> files;  // training files, read as one stream in this order
  FormatSpec format = DefaultFormatSpec(FormatKind::kPreference);
  MalformedPolicy on_malformed = MalformedPolicy::kStop;
  // With kSkip: fail once the malformed lines met in one epoch exceed this fraction of the
  // training lines (1.0 never trips on the fraction).
  double max_malformed_fraction = 1.0;
  bool shuffle = true;
  uint64_t seed = 0;
  // Held-out split carved from `files` by content hash; exclusive with `eval_files`.
  double eval_fraction = 0.0;
  std::vector<std::string> eval_files;
};

// Reads the keys above from `section` and calls Finish() on it and on its `fields` and
// `margins` children. Relative paths are resolved against `base_dir` (the config file's folder;
// "" keeps them as written). Defaults: format preference, on_malformed stop,
// max_malformed_fraction 1.0, shuffle true, seed 0, eval_fraction 0.
//
// `margins` maps label -> number and replaces the default Llama 2 table. ConfigMap cannot list
// the keys of a mapping, so labels other than the four Llama 2 ones must first be named in
// `margin_labels: [a, b]`; an unnamed label is an "unknown key" error.
absl::StatusOr<DatasetOptions> ParseDatasetOptions(config::ConfigMap& section,
                                                   absl::string_view base_dir);

}  // namespace plumb::data

#endif  // PLUMB_COMMON_DATA_DATASET_OPTIONS_H_
