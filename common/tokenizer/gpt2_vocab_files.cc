#include "common/tokenizer/gpt2_vocab_files.h"

#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/checkpoint/file_io.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/json_fields.h"

namespace plumb::tokenizer {
namespace {

constexpr absl::string_view kEndOfText = "<|endoftext|>";

}  // namespace

absl::StatusOr<BpeTokenizerSpec> ParseGpt2VocabFiles(absl::string_view encoder_json,
                                                     absl::string_view encoder_source,
                                                     absl::string_view vocab_bpe,
                                                     absl::string_view vocab_source) {
  BpeTokenizerSpec spec;
  ASSIGN_OR_RETURN(json_fields::Json encoder, json_fields::ParseJson(encoder_json, encoder_source));
  if (!encoder.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(encoder_source,
                                                   ": expected an object of token -> id, got ",
                                                   json_fields::Describe(encoder)));
  }
  spec.model.vocab.reserve(encoder.size());
  for (const auto& [token, id] : encoder.items()) {
    auto value = json_fields::ToInt32(id, Echo(token));
    if (!value.ok()) return Annotate(value.status(), encoder_source);
    spec.model.vocab.emplace(token, *value);
  }

  const std::vector<absl::string_view> lines = absl::StrSplit(vocab_bpe, '\n');
  for (size_t i = 0; i < lines.size(); ++i) {
    const absl::string_view line = absl::StripSuffix(lines[i], "\r");
    if (line.empty() || (i == 0 && absl::StartsWith(line, "#version"))) continue;
    const std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(vocab_source, ":", i + 1, ": expected two tokens separated by a space, got ",
                       Echo(std::string_view(line.data(), line.size()))));
    }
    spec.model.merges.emplace_back(std::string(parts[0]), std::string(parts[1]));
  }
  spec.model.merges_label = absl::StrCat(vocab_source, " merge");

  spec.pre_tokenizer.splits.push_back({.pattern = std::string(kGpt2Pattern)});
  if (auto it = spec.model.vocab.find(kEndOfText); it != spec.model.vocab.end()) {
    spec.added_tokens.push_back(
        {.id = it->second, .content = std::string(kEndOfText), .special = true});
    spec.special_names.bos = std::string(kEndOfText);
    spec.special_names.eos = std::string(kEndOfText);
  }
  spec.source = std::string(vocab_source);
  return spec;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadGpt2VocabFiles(const std::string& directory) {
  const std::string encoder_path = (std::filesystem::path(directory) / "encoder.json").string();
  const std::string vocab_path = (std::filesystem::path(directory) / "vocab.bpe").string();
  ASSIGN_OR_RETURN(std::string encoder, checkpoint::ReadFileToString(encoder_path));
  ASSIGN_OR_RETURN(std::string vocab, checkpoint::ReadFileToString(vocab_path));
  ASSIGN_OR_RETURN(BpeTokenizerSpec spec,
                   ParseGpt2VocabFiles(encoder, encoder_path, vocab, vocab_path));
  spec.source = directory;
  auto tokenizer = BpeTokenizer::Create(std::move(spec));
  if (!tokenizer.ok()) return Annotate(tokenizer.status(), directory);
  return tokenizer;
}

}  // namespace plumb::tokenizer
