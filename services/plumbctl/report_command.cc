#include "services/plumbctl/report_command.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/status_macros.h"
#include "services/plumbctl/proto_enum_text.h"
#include "services/plumbctl/watch_command.h"

extern char** environ;

namespace plumb::plumbctl {
namespace {

namespace fs = std::filesystem;

double Metric(const v1::JobEvent& e, const std::string& name, double otherwise = NAN) {
  auto it = e.metrics().find(name);
  return it == e.metrics().end() ? otherwise : it->second;
}

struct StageSummary {
  std::string name;
  int iteration = 0;
  std::optional<int64_t> start_seconds, end_seconds;
  std::vector<v1::JobEvent> rounds;
  std::vector<v1::JobEvent> evaluations;
};

std::string Fixed(double value, int digits = 3) {
  if (std::isnan(value)) return "-";
  return absl::StrFormat("%.*f", digits, value);
}

// Figures of a stage's rounds: the first and last value of each, and a reward model's accuracy on
// new pairs (the mean over every round but the first, each measured before training on it).
nlohmann::json StageFigures(const StageSummary& stage) {
  nlohmann::json out = nlohmann::json::object();
  out["name"] = stage.name;
  out["iteration"] = stage.iteration;
  if (stage.start_seconds && stage.end_seconds) {
    out["seconds"] = *stage.end_seconds - *stage.start_seconds;
  }
  out["rounds"] = stage.rounds.size();
  for (const char* name :
       {"loss/total", "reward_mean", "kl", "response_tokens_mean", "distinct_2", "unique_responses",
        "rs/selected_reward_mean", "dpo/margin", "dpo/accuracy"}) {
    if (stage.rounds.empty()) break;
    const double first = Metric(stage.rounds.front(), name);
    const double last = Metric(stage.rounds.back(), name);
    if (std::isnan(first) && std::isnan(last)) continue;
    out["first"][name] = std::isnan(first) ? nlohmann::json() : nlohmann::json(first);
    out["last"][name] = std::isnan(last) ? nlohmann::json() : nlohmann::json(last);
  }
  double sum = 0;
  int n = 0;
  for (size_t i = 1; i < stage.rounds.size(); ++i) {
    const double accuracy = Metric(stage.rounds[i], "rm/accuracy");
    if (!std::isnan(accuracy)) sum += accuracy, ++n;
  }
  if (n > 0) out["reward_model_accuracy_on_new_pairs"] = sum / n;
  return out;
}

nlohmann::json JudgeJson(const JudgeFigures& j) {
  nlohmann::json out = {{"stage", j.stage},
                        {"mean", j.mean},
                        {"sd", j.sd},
                        {"n", j.n},
                        {"ci95", {j.low, j.high}},
                        {"unique_responses", j.unique},
                        {"mean_response_tokens", j.length},
                        {"distinct_2", j.distinct_2}};
  if (j.has_kl) out["kl"] = j.kl;
  nlohmann::json samples = nlohmann::json::parse(j.samples_json, nullptr, false);
  out["samples"] = samples.is_discarded() ? nlohmann::json::array() : samples;
  return out;
}

void PrintSamples(const JudgeFigures& j, std::ostream& out) {
  nlohmann::json samples = nlohmann::json::parse(j.samples_json, nullptr, false);
  if (!samples.is_array()) return;
  for (const nlohmann::json& s : samples) {
    if (!s.is_object()) continue;
    out << "    [" << Fixed(s.value("score", NAN), 2) << "] "
        << nlohmann::json(s.value("prompt", ""))
               .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
        << " -> "
        << nlohmann::json(s.value("response", ""))
               .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
        << "\n";
  }
}

// Runs `gnuplot script` (no shell); the status says why when it cannot.
absl::Status RunGnuplot(const std::string& gnuplot, const std::string& script) {
  std::vector<std::string> args = {gnuplot, script};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, gnuplot.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
    return absl::NotFoundError(
        absl::StrCat(gnuplot, " could not be started (install gnuplot-nox)"));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(gnuplot, " failed on ", script));
  }
  return absl::OkStatus();
}

}  // namespace

JudgeFigures JudgeFiguresOf(const v1::JobEvent& e) {
  JudgeFigures j;
  j.stage = e.stage_name();
  j.mean = Metric(e, "eval/reward_mean", 0);
  j.sd = Metric(e, "eval/reward_std", 0);
  j.n = Metric(e, "eval/rollouts", 0);
  const double half = j.n > 0 ? 1.96 * j.sd / std::sqrt(j.n) : INFINITY;
  j.low = j.mean - half;
  j.high = j.mean + half;
  j.unique = Metric(e, "eval/unique_responses", 0);
  j.length = Metric(e, "eval/response_tokens_mean", 0);
  j.distinct_2 = Metric(e, "eval/distinct_2", 0);
  const double kl = Metric(e, "eval/kl");
  j.has_kl = !std::isnan(kl);
  j.kl = j.has_kl ? kl : 0;
  const size_t at = e.message().find("\nsamples: ");
  if (at != std::string::npos) j.samples_json = e.message().substr(at + 10);
  return j;
}

AlignmentChecks CheckAlignment(const JudgeFigures& before, const JudgeFigures& after) {
  AlignmentChecks c{.before = before, .after = after};
  c.gain = after.low > before.high;
  c.unique_ok = after.unique >= 0.8;
  c.length_ok = before.length > 0 && std::abs(after.length / before.length - 1) <= 0.2;
  c.distinct_ok =
      before.distinct_2 > 0 && std::abs(after.distinct_2 / before.distinct_2 - 1) <= 0.2;
  return c;
}

absl::Status RunReport(Connection& connection, const ReportArgs& args, std::ostream& out,
                       std::ostream& err) {
  ASSIGN_OR_RETURN(v1::Job job, GetJob(connection, args.job_id));
  std::vector<StageSummary> stages;
  auto stage_of = [&](const v1::JobEvent& e) -> StageSummary& {
    for (StageSummary& s : stages) {
      if (s.name == e.stage_name() && s.iteration == e.iteration()) return s;
    }
    stages.push_back({.name = e.stage_name(), .iteration = e.iteration()});
    return stages.back();
  };
  std::vector<v1::JobEvent> evaluations;
  RETURN_IF_ERROR(ReadStoredEvents(connection, args.job_id, 0, [&](const v1::JobEvent& e) {
    switch (e.type()) {
      case v1::JOB_EVENT_TYPE_STAGE_STARTED:
        stage_of(e).start_seconds = e.time().seconds();
        break;
      case v1::JOB_EVENT_TYPE_STAGE_FINISHED:
        stage_of(e).end_seconds = e.time().seconds();
        break;
      case v1::JOB_EVENT_TYPE_ROUND_FINISHED:
        stage_of(e).rounds.push_back(e);
        break;
      case v1::JOB_EVENT_TYPE_EVALUATION:
        stage_of(e).evaluations.push_back(e);
        evaluations.push_back(e);
        break;
      default:
        break;
    }
  }));

  const fs::path folder = args.out_dir.empty()
                              ? fs::path(absl::StrCat("plumb-report-", args.job_id))
                              : fs::path(args.out_dir);
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", folder.string(), ": ", error.message()));
  }

  nlohmann::json report = {{"job_id", job.job_id()},
                           {"name", job.spec().name()},
                           {"state", EnumText(v1::JobState_descriptor(), job.status().state())}};
  out << "job " << job.job_id() << " (" << job.spec().name()
      << "): " << EnumText(v1::JobState_descriptor(), job.status().state()) << "\n\nstages:\n";
  // Per stage, and the per-round series for the plot (one step per round, across stages).
  std::ofstream steps(folder / "steps.tsv");
  steps << "# step\tstage\treward_mean\tkl\tresponse_tokens_mean\tloss\n";
  int step = 0;
  for (const StageSummary& s : stages) {
    nlohmann::json figures = StageFigures(s);
    report["stages"].push_back(figures);
    out << absl::StrFormat(
        "  %-20s %5s s  %4d rounds", s.name,
        figures.contains("seconds") ? absl::StrCat(figures["seconds"].get<int64_t>()) : "-",
        static_cast<int>(s.rounds.size()));
    if (figures.contains("last")) {
      for (const auto& [name, value] : figures["last"].items()) {
        if (value.is_number()) out << "  " << name << " " << Fixed(value.get<double>());
      }
    }
    if (figures.contains("reward_model_accuracy_on_new_pairs")) {
      out << "  reward-model accuracy on new pairs "
          << Fixed(figures["reward_model_accuracy_on_new_pairs"].get<double>());
    }
    out << "\n";
    for (const v1::JobEvent& r : s.rounds) {
      steps << step++ << "\t" << s.name << "\t" << Fixed(Metric(r, "reward_mean"), 5) << "\t"
            << Fixed(Metric(r, "kl"), 5) << "\t" << Fixed(Metric(r, "response_tokens_mean"), 3)
            << "\t" << Fixed(Metric(r, "loss/total"), 5) << "\n";
    }
  }
  steps.close();

  absl::Status verdict = absl::OkStatus();
  if (evaluations.size() < 2) {
    verdict = absl::FailedPreconditionError(
        "the job has fewer than two evaluations: nothing to compare before and after");
  } else {
    const AlignmentChecks c =
        CheckAlignment(JudgeFiguresOf(evaluations.front()), JudgeFiguresOf(evaluations.back()));
    report["before"] = JudgeJson(c.before);
    report["after"] = JudgeJson(c.after);
    report["checks"] = {{"judge_gain_with_separate_95ci", c.gain},
                        {"unique_responses_at_least_80pct", c.unique_ok},
                        {"length_within_20pct", c.length_ok},
                        {"distinct_2_within_20pct", c.distinct_ok},
                        {"passed", c.passed()}};
    auto line = [&](const char* label, const JudgeFigures& j) {
      out << absl::StrFormat(
          "  %-7s %-14s judge %s [%s, %s]  unique %s  length %s  distinct-2 %s  kl %s\n", label,
          j.stage, Fixed(j.mean), Fixed(j.low), Fixed(j.high), Fixed(j.unique, 2),
          Fixed(j.length, 1), Fixed(j.distinct_2), j.has_kl ? Fixed(j.kl) : "-");
    };
    out << "\nalignment (held-out prompts; judge mean with its 95% interval):\n";
    line("before", c.before);
    line("after", c.after);
    out << "  checks: judge gain with intervals apart " << (c.gain ? "yes" : "NO")
        << "; unique >= 80% " << (c.unique_ok ? "yes" : "NO") << "; length within 20% "
        << (c.length_ok ? "yes" : "NO") << "; distinct-2 within 20% "
        << (c.distinct_ok ? "yes" : "NO") << " => " << (c.passed() ? "PASSED" : "FAILED")
        << "\n\nsamples before:\n";
    PrintSamples(c.before, out);
    out << "samples after:\n";
    PrintSamples(c.after, out);
  }

  // The plot: reward, KL and length per round.
  std::ofstream script(folder / "plot.gp");
  const std::string data = fs::absolute(folder / "steps.tsv").string();
  std::string plots = absl::StrCat(
      "set datafile missing '-'\nset datafile separator '\\t'\n",
      "set multiplot layout 3,1 title '", job.spec().name(), " (", job.job_id(),
      ")'\nset grid\nset xlabel 'round (all stages)'\n", "plot '", data,
      "' using 1:3 with linespoints pt 7 ps 0.4 title 'reward (mean)'\n", "plot '", data,
      "' using 1:4 with linespoints pt 7 ps 0.4 title 'KL to reference'\n", "plot '", data,
      "' using 1:5 with linespoints pt 7 ps 0.4 title 'response length (tokens)'\n",
      "unset multiplot\n");
  // The same plot as SVG (for browsers) and PNG (for READMEs and image viewers).
  script << "set terminal svg size 900,750 dynamic font 'sans,11'\n"
         << "set output '" << fs::absolute(folder / "report.svg").string() << "'\n"
         << plots << "set terminal png size 900,750\n"
         << "set output '" << fs::absolute(folder / "report.png").string() << "'\n"
         << plots;
  script.close();
  if (absl::Status plotted = RunGnuplot(args.gnuplot, (folder / "plot.gp").string());
      plotted.ok()) {
    report["plot"] = {(folder / "report.svg").string(), (folder / "report.png").string()};
  } else {
    err << "plumbctl report: no plot: " << plotted.message() << "\n";
  }
  std::ofstream json(folder / "report.json");
  json << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  out << "\nfiles: " << (folder / "report.json").string() << ", " << (folder / "steps.tsv").string()
      << (report.contains("plot") ? absl::StrCat(", ", (folder / "report.svg").string(), ", ",
                                                 (folder / "report.png").string())
                                  : "")
      << "\n";
  return verdict;
}

}  // namespace plumb::plumbctl
