#include "services/plumb-coordinator/offline_data.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/checkpoint/file_io.h"
#include "common/data/format_spec.h"
#include "common/data/line_format.h"
#include "common/data/seeded_order.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/load_tokenizer.h"
#include "services/plumb-coordinator/dataset_files.h"

namespace plumb::coordinator {
namespace {

struct FormatOf {
  data::FormatKind kind;
  OfflineBatchKind batch;
};

absl::StatusOr<FormatOf> FormatFor(const DatasetSource& source) {
  switch (source.format) {
    case DatasetFormat::kHhRlhf:
      return FormatOf{data::FormatKind::kHhRlhf, OfflineBatchKind::kPreference};
    case DatasetFormat::kRmStatic:
      return FormatOf{data::FormatKind::kRmStatic, OfflineBatchKind::kPreference};
    case DatasetFormat::kStackExchangePaired:
      return FormatOf{data::FormatKind::kStackExchangePaired, OfflineBatchKind::kPreference};
    case DatasetFormat::kKtoUnpaired:
      return FormatOf{data::FormatKind::kKto, OfflineBatchKind::kUnpaired};
    case DatasetFormat::kRanked:
      return FormatOf{data::FormatKind::kRanked, OfflineBatchKind::kRanked};
    case DatasetFormat::kPromptCompletion:
    case DatasetFormat::kPlainText:
      return FormatOf{data::FormatKind::kSft, OfflineBatchKind::kSft};
    default:
      return absl::InvalidArgumentError(absl::StrCat(source.path, ": dataset format ",
                                                     static_cast<int>(source.format),
                                                     " does not hold training examples"));
  }
}

std::string Templated(const DatasetSource& source, const std::string& prompt) {
  if (source.prompt_template.empty()) return prompt;
  return absl::StrReplaceAll(source.prompt_template, {{"{prompt}", prompt}});
}

// The prompt of an example, for the template.
std::string* PromptOf(data::Example& example) {
  return std::visit([](auto& value) { return &value.prompt; }, example.value);
}

absl::Status ReadSource(const DatasetSource& source, data::FormatKind kind,
                        std::vector<data::Example>* out) {
  ASSIGN_OR_RETURN(std::vector<std::string> files, SourceFiles(source));
  std::vector<data::Example> found;
  auto full = [&] {
    return source.max_examples > 0 && static_cast<int64_t>(found.size()) >= source.max_examples;
  };
  data::FormatSpec spec = data::DefaultFormatSpec(kind);
  if (kind == data::FormatKind::kSft) spec.fields["response"] = "completion";
  for (const std::string& file : files) {
    if (full()) break;
    ASSIGN_OR_RETURN(std::string text, checkpoint::ReadFileToString(file, kMaxDatasetFileBytes));
    if (source.format == DatasetFormat::kPlainText) {
      int64_t index = 0;
      for (std::string& body : PlainTextExamples(text)) {
        if (full()) break;
        found.push_back({data::SftExample{"", std::move(body)}, {file, ++index, 0}});
      }
      continue;
    }
    int64_t line_number = 0;
    uint64_t offset = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_number;
      const uint64_t line_offset = offset;
      offset += line.size() + 1;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      if (full()) break;
      ASSIGN_OR_RETURN(data::Example example,
                       data::ParseLine(line, spec, {file, line_number, line_offset}));
      found.push_back(std::move(example));
      if (static_cast<int64_t>(found.size()) > kMaxOfflineExamples) {
        return absl::ResourceExhaustedError(
            absl::StrCat(source.path, ": more than ", kMaxOfflineExamples, " examples"));
      }
    }
  }
  for (data::Example& example : found) {
    std::string* prompt = PromptOf(example);
    if (!prompt->empty() || source.format != DatasetFormat::kPlainText) {
      *prompt = Templated(source, *prompt);
    }
    out->push_back(std::move(example));
  }
  return absl::OkStatus();
}

// An encoding error with the example's file and line in front.
template <typename T>
absl::StatusOr<T> Where(absl::StatusOr<T> value, const std::string& where) {
  if (value.ok()) return value;
  return absl::Status(value.status().code(), absl::StrCat(where, value.status().message()));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const tokenizer::Tokenizer>> LoadPlanTokenizer(
    const TokenizationPlan& tokenization) {
  if (tokenization.tokenizer == "byte") {
    ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::ByteTokenizer> byte,
                     tokenizer::ByteTokenizer::Create());
    return std::shared_ptr<const tokenizer::Tokenizer>(std::move(byte));
  }
  if (tokenization.tokenizer.empty()) {
    return absl::FailedPreconditionError("the job names no tokenizer for its offline stages");
  }
  absl::StatusOr<std::unique_ptr<tokenizer::Tokenizer>> loaded =
      tokenizer::LoadTokenizer(tokenization.tokenizer);
  if (!loaded.ok()) {
    return absl::Status(loaded.status().code(), absl::StrCat("tokenizer ", tokenization.tokenizer,
                                                             ": ", loaded.status().message()));
  }
  return std::shared_ptr<const tokenizer::Tokenizer>(*std::move(loaded));
}

absl::StatusOr<std::unique_ptr<OfflineData>> OfflineData::Load(
    const std::vector<DatasetSource>& sources,
    std::shared_ptr<const tokenizer::Tokenizer> tokenizer, const TokenizationPlan& tokenization) {
  if (sources.empty()) return absl::InvalidArgumentError("the stage has no train_data");
  train::EncoderOptions options;
  options.max_length = tokenization.max_length;
  options.max_prompt_length = tokenization.max_prompt_length;
  options.add_bos = true;
  options.add_eos = tokenization.add_eos;
  options.truncation = train::Truncation::kLeft;
  std::optional<OfflineBatchKind> kind;
  std::vector<data::Example> examples;
  std::vector<uint32_t> pool;
  for (const DatasetSource& source : sources) {
    ASSIGN_OR_RETURN(FormatOf format, FormatFor(source));
    if (kind.has_value() && *kind != format.batch) {
      return absl::InvalidArgumentError(
          absl::StrCat(source.path,
                       ": its format makes other training examples than the "
                       "stage's first dataset; one stage trains on one kind"));
    }
    kind = format.batch;
    const size_t begin = examples.size();
    RETURN_IF_ERROR(ReadSource(source, format.kind, &examples));
    const int64_t n = static_cast<int64_t>(examples.size() - begin);
    if (n == 0) continue;
    const int64_t count = WeightedCount(n, source.weight);
    if (static_cast<int64_t>(pool.size()) + count > kMaxOfflineExamples) {
      return absl::ResourceExhaustedError(
          absl::StrCat("more than ", kMaxOfflineExamples, " weighted examples in one stage"));
    }
    for (int64_t i = 0; i < count; ++i) pool.push_back(static_cast<uint32_t>(begin + i % n));
  }
  if (pool.empty()) return absl::InvalidArgumentError("the stage's train_data holds no example");
  auto out = std::unique_ptr<OfflineData>(new OfflineData(*kind, std::move(tokenizer), options));
  out->examples_ = std::move(examples);
  out->pool_ = std::move(pool);
  return out;
}

int64_t OfflineData::StepsPerEpoch(int64_t batch_size) const {
  const int64_t b = std::max<int64_t>(1, batch_size);
  return (size() + b - 1) / b;
}

absl::StatusOr<OfflineBatch> OfflineData::Batch(uint64_t seed, int64_t step, int64_t batch_size,
                                                const std::string& id_prefix) const {
  if (step < 0 || batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("offline batch: step ", step, ", batch size ", batch_size));
  }
  const int64_t per_epoch = StepsPerEpoch(batch_size);
  const uint64_t epoch = static_cast<uint64_t>(step / per_epoch);
  const int64_t first = (step % per_epoch) * batch_size;
  const int64_t last = std::min(size(), first + batch_size);
  const std::vector<uint32_t> order =
      data::EpochPermutation(static_cast<uint32_t>(size()), seed, epoch);
  OfflineBatch out;
  auto count_cuts = [&](const train::EncodedSequence& s) {
    out.prompts_cut += s.prompt_cut ? 1 : 0;
    out.responses_cut += s.response_cut ? 1 : 0;
  };
  std::vector<learner::SftExample> sft;
  std::vector<learner::PreferenceExample> pairs;
  std::vector<learner::UnpairedExample> unpaired;
  std::vector<learner::RankedGroup> ranked;
  for (int64_t position = first; position < last; ++position) {
    const data::Example& example = examples_[pool_[order[position]]];
    const std::string id = absl::StrCat(id_prefix, "/", epoch, ".", position);
    const std::string where = absl::StrCat(example.source.file, ":", example.source.line, ": ");
    if (const auto* e = std::get_if<data::SftExample>(&example.value)) {
      ASSIGN_OR_RETURN(train::EncodedSequence s,
                       Where(encoder_.Encode(e->prompt, e->response), where));
      count_cuts(s);
      if (s.response.empty()) continue;  // nothing to learn from an empty completion
      sft.push_back({.id = id, .prompt = s.prompt, .completion = s.response});
    } else if (const auto* p = std::get_if<data::PreferencePair>(&example.value)) {
      ASSIGN_OR_RETURN(std::vector<train::EncodedSequence> s,
                       Where(encoder_.EncodeShared(p->prompt, {p->chosen, p->rejected}), where));
      count_cuts(s[0]);
      count_cuts(s[1]);
      pairs.push_back({.id = id,
                       .prompt = s[0].prompt,
                       .chosen = s[0].response,
                       .rejected = s[1].response,
                       .margin = p->margin,
                       .probability = p->preference_probability});
    } else if (const auto* u = std::get_if<data::UnpairedExample>(&example.value)) {
      ASSIGN_OR_RETURN(train::EncodedSequence s,
                       Where(encoder_.Encode(u->prompt, u->completion), where));
      count_cuts(s);
      unpaired.push_back(
          {.id = id, .prompt = s.prompt, .completion = s.response, .desirable = u->desirable});
    } else if (const auto* r = std::get_if<data::RankedList>(&example.value)) {
      std::vector<absl::string_view> responses(r->responses.begin(), r->responses.end());
      ASSIGN_OR_RETURN(std::vector<train::EncodedSequence> s,
                       Where(encoder_.EncodeShared(r->prompt, responses), where));
      learner::RankedGroup group{.id = id, .prompt = s.front().prompt};
      for (size_t i = 0; i < s.size(); ++i) {
        count_cuts(s[i]);
        group.responses.push_back(s[i].response);
        group.ranks.push_back(r->ranks[i] - 1);  // the data's 1 = best is the learner's 0
      }
      ranked.push_back(std::move(group));
    }
  }
  switch (kind_) {
    case OfflineBatchKind::kSft:
      out.examples = static_cast<int64_t>(sft.size());
      out.batch = std::move(sft);
      break;
    case OfflineBatchKind::kPreference:
      out.examples = static_cast<int64_t>(pairs.size());
      out.batch = std::move(pairs);
      break;
    case OfflineBatchKind::kUnpaired:
      out.examples = static_cast<int64_t>(unpaired.size());
      out.batch = std::move(unpaired);
      break;
    case OfflineBatchKind::kRanked:
      out.examples = static_cast<int64_t>(ranked.size());
      out.batch = std::move(ranked);
      break;
  }
  return out;
}

}  // namespace plumb::coordinator
