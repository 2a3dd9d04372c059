// What `plumbctl watch` prints for a stream of job events: one progress line per stage (round
// r/R, reward, KL, tokens/s, ETA from the mean duration of the stage's finished rounds), and a
// line for each state change, stage start/end, checkpoint, evaluation, retry, lost worker and log
// message. On a terminal the progress line is redrawn in place with \r; elsewhere (a pipe, a
// file) every round appends a line. ROUND_STARTED, TRAIN_STEP and WEIGHTS_PUBLISHED print nothing.
//
// Thread safety: none; one watcher feeds it.
#ifndef PLUMB_SERVICES_PLUMBCTL_PROGRESS_DISPLAY_H_
#define PLUMB_SERVICES_PLUMBCTL_PROGRESS_DISPLAY_H_

#include <map>
#include <ostream>
#include <string>

#include "absl/time/time.h"
#include "plumb/v1/coordinator.pb.h"

namespace plumb::plumbctl {

class ProgressDisplay {
 public:
  // `spec` gives each stage's round count; `terminal` selects in-place redrawing.
  ProgressDisplay(v1::JobSpec spec, bool terminal, std::ostream* out);

  void Add(const v1::JobEvent& event);
  // A message from the watcher itself (a reconnect), kept apart from the progress line.
  void Note(const std::string& text);
  // Ends a progress line left open on a terminal.
  void Finish();

  // The progress line of the last finished round (exposed for tests).
  const std::string& progress_line() const { return progress_; }

 private:
  struct StageTiming {
    absl::Time last_round_end = absl::InfinitePast();
    std::map<int, absl::Time> round_starts;
    absl::Duration total = absl::ZeroDuration();
    int finished = 0;
  };

  void RoundFinished(const v1::JobEvent& event);
  void Line(const std::string& text);
  static std::string StageKey(const v1::JobEvent& event);

  v1::JobSpec spec_;
  bool terminal_;
  std::ostream* out_;
  std::string progress_;
  bool progress_open_ = false;  // a progress line is on screen without its newline
  std::map<std::string, StageTiming> timing_;
};

}  // namespace plumb::plumbctl

#endif  // PLUMB_SERVICES_PLUMBCTL_PROGRESS_DISPLAY_H_
