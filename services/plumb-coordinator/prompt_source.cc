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

namespace plumb::coordinator {
namespace {

// Plain text: examples separated by lines holding only "%", or one per non-empty line.
std::vector<std::string> PlainTextExamples(const std::string& text) {
  std::vector<std::string> out;
  const bool fortunes = text.find("\n%\n") != std::string::npos || text.rfind("%\n", 0) == 0;
  if (fortunes) {
    std::string current;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (line == "%") {
        if (!absl::StripAsciiWhitespace(current).empty()) out.push_back(current);
        current.clear();
      } else {
        absl::StrAppend(&current, current.empty() ? "" : "\n", line);
      }
    }
    if (!absl::StripAsciiWhitespace(current).empty()) out.push_back(current);
  } else {
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (!absl::StripAsciiWhitespace(line).empty()) out.emplace_back(line);
    }
  }
  return out;
}

absl::Status AddSource(const DatasetSource& source, std::vector<std::string>* texts) {
  if (source.path.rfind("builtin:", 0) == 0) {
    return absl::UnimplementedError(
        absl::StrCat(source.path, ": built-in corpora are not available to prompt sources yet"));
  }
  absl::StatusOr<std::string> text =
      checkpoint::ReadFileToString(source.path, kMaxDatasetFileBytes);
  if (!text.ok()) return text.status();
  std::vector<std::string> found;
  if (source.format == DatasetFormat::kPlainText) {
    found = PlainTextExamples(*text);
  } else {
    int64_t line_number = 0;
    for (absl::string_view line : absl::StrSplit(*text, '\n')) {
      ++line_number;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      const std::string where = absl::StrCat(source.path, ":", line_number);
      absl::StatusOr<nlohmann::json> row = json_input::ParseJson(line, {.source = where});
      if (!row.ok()) return row.status();
      if (!row->is_object() || !row->contains("prompt") || !(*row)["prompt"].is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": expected an object with a \"prompt\" string"));
      }
      found.push_back((*row)["prompt"].get<std::string>());
      if (source.max_examples > 0 && static_cast<int64_t>(found.size()) >= source.max_examples) {
        break;
      }
    }
  }
  if (source.max_examples > 0 && static_cast<int64_t>(found.size()) > source.max_examples) {
    found.resize(source.max_examples);
  }
  for (std::string& prompt : found) {
    if (static_cast<int64_t>(prompt.size()) > kMaxPromptBytes) {
      return absl::InvalidArgumentError(absl::StrCat(source.path, ": a prompt of ", prompt.size(),
                                                     " bytes; at most ", kMaxPromptBytes));
    }
    if (!source.prompt_template.empty()) {
      prompt = absl::StrReplaceAll(source.prompt_template, {{"{prompt}", prompt}});
    }
    if (static_cast<int64_t>(texts->size()) >= kMaxPromptsPerStage) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", kMaxPromptsPerStage, " prompts in one stage"));
    }
    texts->push_back(std::move(prompt));
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
    prompt.text = texts_[order[position % n]];
    out.push_back(std::move(prompt));
  }
  return out;
}

}  // namespace plumb::coordinator
