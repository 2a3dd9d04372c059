#include "services/plumb-coordinator/prompt_source.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/checkpoint/file_io.h"
#include "common/json/parse_json.h"
#include "services/plumb-coordinator/dataset_files.h"

namespace plumb::coordinator {
namespace {

struct Found {
  std::string text;
  bool unsafe = false;
};

absl::Status AddFile(const DatasetSource& source, const std::string& file,
                     std::vector<Found>* found) {
  absl::StatusOr<std::string> text = checkpoint::ReadFileToString(file, kMaxDatasetFileBytes);
  if (!text.ok()) return text.status();
  if (source.format == DatasetFormat::kPlainText) {
    for (std::string& example : PlainTextExamples(*text)) found->push_back({std::move(example)});
    return absl::OkStatus();
  }
  int64_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(file, ":", line_number);
    absl::StatusOr<nlohmann::json> row = json_input::ParseJson(line, {.source = where});
    if (!row.ok()) return row.status();
    if (!row->is_object() || !row->contains("prompt") || !(*row)["prompt"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": expected an object with a \"prompt\" string"));
    }
    Found prompt{(*row)["prompt"].get<std::string>()};
    if (row->contains("unsafe") && !(*row)["unsafe"].is_null()) {
      if (!(*row)["unsafe"].is_boolean()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": \"unsafe\" must be true or false"));
      }
      prompt.unsafe = (*row)["unsafe"].get<bool>();
    }
    found->push_back(std::move(prompt));
    if (source.max_examples > 0 && static_cast<int64_t>(found->size()) >= source.max_examples) {
      break;
    }
  }
  return absl::OkStatus();
}

absl::Status AddSource(const DatasetSource& source, std::vector<PromptSource::Entry>* texts) {
  absl::StatusOr<std::vector<std::string>> files = SourceFiles(source);
  if (!files.ok()) return files.status();
  std::vector<Found> found;
  for (const std::string& file : *files) {
    if (absl::Status status = AddFile(source, file, &found); !status.ok()) return status;
    if (source.max_examples > 0 && static_cast<int64_t>(found.size()) >= source.max_examples) {
      break;
    }
  }
  if (source.max_examples > 0 && static_cast<int64_t>(found.size()) > source.max_examples) {
    found.resize(source.max_examples);
  }
  for (Found& prompt : found) {
    if (static_cast<int64_t>(prompt.text.size()) > kMaxPromptBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          source.path, ": a prompt of ", prompt.text.size(), " bytes; at most ", kMaxPromptBytes));
    }
    if (!source.prompt_template.empty()) {
      prompt.text = absl::StrReplaceAll(source.prompt_template, {{"{prompt}", prompt.text}});
    }
  }
  // The source's sampling weight: its prompts repeated (or its first ones kept) to
  // round(weight x count) entries of a pass.
  const int64_t count = WeightedCount(static_cast<int64_t>(found.size()), source.weight);
  for (int64_t i = 0; i < count; ++i) {
    if (static_cast<int64_t>(texts->size()) >= kMaxPromptsPerStage) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", kMaxPromptsPerStage, " prompts in one stage"));
    }
    const Found& f = found[i % found.size()];
    texts->push_back({f.text, f.unsafe});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PromptSource> PromptSource::Load(const std::vector<DatasetSource>& sources) {
  PromptSource out;
  for (const DatasetSource& source : sources) {
    if (absl::Status status = AddSource(source, &out.texts_); !status.ok()) return status;
  }
  if (out.texts_.empty())
    return absl::InvalidArgumentError("the stage's prompt_data holds no prompt");
  return out;
}

std::vector<generator::PromptInput> PromptSource::Round(uint64_t seed, int64_t round, int64_t count,
                                                        const std::string& round_id) const {
  const int64_t n = size();
  std::vector<generator::PromptInput> out;
  std::vector<int64_t> order;
  int64_t pass = -1;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t position = round * count + i;
    if (position / n != pass) {
      pass = position / n;
      order.resize(n);
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(seed ^ (0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(pass + 1)));
      std::shuffle(order.begin(), order.end(), rng);
    }
    generator::PromptInput prompt;
    prompt.id = absl::StrCat(round_id, "/p", i);
    const Entry& entry = texts_[order[position % n]];
    prompt.text = entry.text;
    if (entry.unsafe) prompt.metadata["unsafe"] = "true";
    out.push_back(std::move(prompt));
  }
  return out;
}

}  // namespace plumb::coordinator
