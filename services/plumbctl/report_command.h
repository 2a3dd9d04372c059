// `plumbctl report JOB`: what a job did, read from its stored events.
//
//   - per stage: its kind, seconds, rounds or Train calls, and its figures (loss, reward, KL,
//     response length, distinct-2, unique responses; a reward model's accuracy on each round's
//     pairs before it trained on them);
//   - alignment: the judge's mean score on held-out prompts before (the job's first EVALUATION)
//     and after (its last) with 95% confidence intervals (mean +- 1.96 sd / sqrt(n)), the share
//     of unique responses, mean length, distinct-2 and the KL to the reference, the checks a
//     collapse-free gain must pass (after above before with intervals apart; unique >= 80%;
//     length and distinct-2 within 20% of before) and sample texts before and after;
//   - files in the output folder: report.json (every figure), steps.tsv (reward, KL and length
//     per round) and report.svg, the plot of steps.tsv drawn by gnuplot (when installed).
//
// Thread safety: a plain function.
#ifndef PLUMB_SERVICES_PLUMBCTL_REPORT_COMMAND_H_
#define PLUMB_SERVICES_PLUMBCTL_REPORT_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "plumb/v1/coordinator.pb.h"
#include "services/plumbctl/commands.h"

namespace plumb::plumbctl {

struct ReportArgs {
  std::string job_id;
  std::string out_dir;  // empty: "plumb-report-<job id>" in the working directory
  std::string gnuplot = "gnuplot";
};

// A held-out evaluation's judge figures.
struct JudgeFigures {
  std::string stage;
  double mean = 0, sd = 0, n = 0, low = 0, high = 0;
  double unique = 0, length = 0, distinct_2 = 0;
  bool has_kl = false;
  double kl = 0;
  std::string samples_json;  // [{"prompt", "response", "score"}, ...] as the event carried them
};

// The before/after comparison and its checks.
struct AlignmentChecks {
  JudgeFigures before, after;
  bool gain = false;         // after.low > before.high
  bool unique_ok = false;    // after.unique >= 0.8
  bool length_ok = false;    // |after.length / before.length - 1| <= 0.2
  bool distinct_ok = false;  // |after.distinct_2 / before.distinct_2 - 1| <= 0.2
  bool passed() const { return gain && unique_ok && length_ok && distinct_ok; }
};

// The evaluation figures of an EVALUATION event (eval/ metrics and the samples of its message).
JudgeFigures JudgeFiguresOf(const v1::JobEvent& evaluation);
AlignmentChecks CheckAlignment(const JudgeFigures& before, const JudgeFigures& after);

// Writes the files and prints the report. Exit status for the CLI: OK also when the checks fail
// (the report says so); NOT_FOUND for an unknown job; FAILED_PRECONDITION for a job with fewer
// than two evaluations (nothing to compare: the per-stage part is still printed).
absl::Status RunReport(Connection& connection, const ReportArgs& args, std::ostream& out,
                       std::ostream& err);

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_REPORT_COMMAND_H_
