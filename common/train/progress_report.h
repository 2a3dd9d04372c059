// What a training run tells its user: a progress line on a terminal stream (step, loss,
// learning rate, gradient norm, throughput, ETA) and one JSON object per report in a metrics file
// ({"split": "train"|"eval", "step": N, "time": unix seconds, ...statistics}). Only the primary
// rank reports; on other ranks every call is a no-op.
//
// Thread safety: the trainer's thread only.
#ifndef PLUMB_COMMON_TRAIN_PROGRESS_REPORT_H_
#define PLUMB_COMMON_TRAIN_PROGRESS_REPORT_H_

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace plumb::train {

class ProgressReport {
 public:
  // `terminal` may be null (no progress lines); `metrics_file` may be empty (no file).
  ProgressReport(bool primary, std::ostream* terminal, std::string metrics_file, std::string kind);

  // Opens the metrics file, appending when `append` (a resumed run), else truncating.
  absl::Status Open(bool append);
  // Marks the start of timing at `step` of `total` steps (for throughput and ETA).
  void Start(int64_t step, int64_t total);
  // `examples` per step; `tokens_total` tokens processed by this run so far.
  absl::Status Train(int64_t step, const std::map<std::string, double>& stats, int64_t examples,
                     int64_t tokens_total);
  absl::Status Eval(int64_t step, const std::map<std::string, double>& stats);
  void Note(const std::string& message);

  // "1h02m", "3m07s", "12s".
  static std::string FormatDuration(double seconds);

 private:
  absl::Status WriteJson(const std::string& split, int64_t step,
                         const std::map<std::string, double>& stats);

  bool primary_;
  std::ostream* terminal_;
  std::string metrics_file_;
  std::string kind_;
  std::ofstream metrics_;
  std::chrono::steady_clock::time_point start_;
  int64_t start_step_ = 0;
  int64_t total_ = 0;
};

}  // namespace plumb::train

#endif  // PLUMB_COMMON_TRAIN_PROGRESS_REPORT_H_
