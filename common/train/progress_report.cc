#include "common/train/progress_report.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb::train {

ProgressReport::ProgressReport(bool primary, std::ostream* terminal, std::string metrics_file,
                               std::string kind)
    : primary_(primary),
      terminal_(terminal),
      metrics_file_(std::move(metrics_file)),
      kind_(std::move(kind)) {}

absl::Status ProgressReport::Open(bool append) {
  if (!primary_ || metrics_file_.empty()) return absl::OkStatus();
  std::error_code ec;
  const auto parent = std::filesystem::path(metrics_file_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  metrics_.open(metrics_file_, append ? std::ios::app : std::ios::trunc);
  if (!metrics_) {
    return absl::PermissionDeniedError(absl::StrCat("cannot write metrics to ", metrics_file_));
  }
  return absl::OkStatus();
}

void ProgressReport::Start(int64_t step, int64_t total) {
  start_ = std::chrono::steady_clock::now();
  start_step_ = step;
  total_ = total;
}

std::string ProgressReport::FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

absl::Status ProgressReport::WriteJson(const std::string& split, int64_t step,
                                       const std::map<std::string, double>& stats) {
  if (!metrics_.is_open()) return absl::OkStatus();
  nlohmann::json row = {
      {"split", split},
      {"step", step},
      {"kind", kind_},
      {"time",
       std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()}};
  for (const auto& [name, value] : stats) {
    row[name] = std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
  }
  metrics_ << row.dump() << "\n";
  metrics_.flush();
  if (!metrics_) return absl::DataLossError(absl::StrCat("writing ", metrics_file_, " failed"));
  return absl::OkStatus();
}

absl::Status ProgressReport::Train(int64_t step, const std::map<std::string, double>& stats,
                                   int64_t examples, int64_t tokens_total) {
  if (!primary_) return absl::OkStatus();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int64_t done = step - start_step_;
  const double per_step = done > 0 ? elapsed / done : 0;
  std::map<std::string, double> row = stats;
  row["examples_per_second"] = per_step > 0 ? examples / per_step : 0;
  row["tokens_per_second"] = elapsed > 0 ? tokens_total / elapsed : 0;
  row["elapsed_seconds"] = elapsed;
  if (terminal_ != nullptr) {
    auto get = [&](const char* name) {
      auto it = row.find(name);
      return it == row.end() ? std::nan("") : it->second;
    };
    std::string cut;
    const double prompts_cut =
        row.count("data/truncated_prompts") ? get("data/truncated_prompts") : 0;
    const double responses_cut =
        row.count("data/truncated_responses") ? get("data/truncated_responses") : 0;
    if (prompts_cut > 0 || responses_cut > 0) {
      cut = absl::StrFormat(" | truncated %.0f prompts %.0f responses of %.0f", prompts_cut,
                            responses_cut, get("data/sequences"));
    }
    *terminal_ << absl::StrFormat(
        "[%s] step %d/%d | loss %.4f | lr %.2e | grad %.3f | %.1f ex/s %.0f tok/s%s | eta %s\n",
        kind_, step, total_, get("loss"), get("lr"), get("grad_norm"), row["examples_per_second"],
        row["tokens_per_second"], cut,
        FormatDuration(per_step * static_cast<double>(total_ - step)));
  }
  return WriteJson("train", step, row);
}

absl::Status ProgressReport::Eval(int64_t step, const std::map<std::string, double>& stats) {
  if (!primary_) return absl::OkStatus();
  if (terminal_ != nullptr) {
    std::string line = absl::StrCat("[", kind_, "] eval at step ", step, ":");
    for (const auto& [name, value] : stats)
      absl::StrAppend(&line, " ", name, "=", absl::StrFormat("%.4f", value));
    *terminal_ << line << "\n";
  }
  return WriteJson("eval", step, stats);
}

void ProgressReport::Note(const std::string& message) {
  if (primary_ && terminal_ != nullptr) *terminal_ << "[" << kind_ << "] " << message << "\n";
}

}  // namespace plumb::train
