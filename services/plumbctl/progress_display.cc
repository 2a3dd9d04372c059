#include "services/plumbctl/progress_display.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/plumbctl/job_text.h"
#include "services/plumbctl/proto_enum_text.h"

namespace plumb::plumbctl {
namespace {

constexpr char kClearLine[] = "\r\033[K";

std::string Metric(const v1::JobEvent& event, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    auto it = event.metrics().find(name);
    if (it != event.metrics().end()) return FormatNumber(it->second);
  }
  return "-";
}

}  // namespace

ProgressDisplay::ProgressDisplay(v1::JobSpec spec, bool terminal, std::ostream* out)
    : spec_(std::move(spec)), terminal_(terminal), out_(out) {}

std::string ProgressDisplay::StageKey(const v1::JobEvent& event) {
  return absl::StrCat(event.iteration(), "/", event.stage_index());
}

void ProgressDisplay::Line(const std::string& text) {
  if (terminal_ && progress_open_) {
    // Erase the progress line, print the message, and redraw the progress line below it.
    *out_ << kClearLine << text << "\n" << progress_;
  } else {
    *out_ << text << "\n";
  }
  out_->flush();
}

void ProgressDisplay::Note(const std::string& text) { Line(text); }

void ProgressDisplay::Finish() {
  if (progress_open_) *out_ << "\n";
  progress_open_ = false;
  out_->flush();
}

void ProgressDisplay::RoundFinished(const v1::JobEvent& event) {
  StageTiming& timing = timing_[StageKey(event)];
  const absl::Time end = ToAbslTime(event.time());
  absl::Time start = absl::InfinitePast();
  if (auto it = timing.round_starts.find(event.round()); it != timing.round_starts.end()) {
    start = it->second;
    timing.round_starts.erase(it);
  } else if (timing.last_round_end != absl::InfinitePast()) {
    start = timing.last_round_end;
  }
  if (start != absl::InfinitePast() && end >= start) {
    timing.total += end - start;
    ++timing.finished;
  }
  timing.last_round_end = end;

  const int rounds = StageRounds(spec_, event.stage_index());
  std::string eta = "-";
  if (timing.finished > 0 && rounds > 0) {
    const int remaining = std::max(0, rounds - (event.round() + 1));
    eta = FormatEta(timing.total / timing.finished * remaining);
  }
  std::string stage = OneLine(event.stage_name());
  if (spec_.iterations() > 1) absl::StrAppend(&stage, " #", event.iteration() + 1);
  progress_ = absl::StrCat(stage, "  round ", event.round() + 1, "/",
                           rounds > 0 ? absl::StrCat(rounds) : "?", "  reward ",
                           Metric(event, {"reward_mean", "reward"}), "  kl ", Metric(event, {"kl"}),
                           "  tok/s ", Metric(event, {"tokens_per_second"}), "  eta ", eta);
  if (terminal_) {
    *out_ << kClearLine << progress_;
    progress_open_ = true;
  } else {
    *out_ << progress_ << "\n";
  }
  out_->flush();
}

void ProgressDisplay::Add(const v1::JobEvent& event) {
  switch (event.type()) {
    case v1::JOB_EVENT_TYPE_ROUND_STARTED:
      timing_[StageKey(event)].round_starts[event.round()] = ToAbslTime(event.time());
      return;
    case v1::JOB_EVENT_TYPE_ROUND_FINISHED:
      RoundFinished(event);
      return;
    case v1::JOB_EVENT_TYPE_STATE_CHANGED:
      Line(absl::StrCat(
          "job ", OneLine(event.job_id()), ": ", EnumText(v1::JobState_descriptor(), event.state()),
          event.message().empty() ? "" : absl::StrCat(" (", OneLine(event.message()), ")")));
      return;
    case v1::JOB_EVENT_TYPE_STAGE_STARTED:
      Finish();
      progress_.clear();
      Line(absl::StrCat("stage ", OneLine(event.stage_name()), " (", event.stage_index() + 1, "/",
                        spec_.stages_size(), ") started"));
      return;
    case v1::JOB_EVENT_TYPE_STAGE_FINISHED:
      Finish();  // the stage's last progress line stays on screen as its summary
      progress_.clear();
      Line(absl::StrCat("stage ", OneLine(event.stage_name()), " finished"));
      return;
    case v1::JOB_EVENT_TYPE_CHECKPOINT_SAVED:
      Line(absl::StrCat("checkpoint ", OneLine(event.message())));
      return;
    case v1::JOB_EVENT_TYPE_EVALUATION:
      Line(absl::StrCat("evaluation ", FormatMetrics(event.metrics())));
      return;
    case v1::JOB_EVENT_TYPE_RETRY:
    case v1::JOB_EVENT_TYPE_WORKER_LOST:
    case v1::JOB_EVENT_TYPE_LOG:
      Line(FormatEventLine(event));
      return;
    default:
      return;  // TRAIN_STEP, WEIGHTS_PUBLISHED and unknown types: too frequent or not for people
  }
}

}  // namespace plumb::plumbctl
