#include "common/tokenizer/hf_tokenizer_json.h"

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/checkpoint/file_io.h"
#include "common/status/echo.h"
#include "common/status/status_macros.h"
#include "common/tokenizer/hf_pipeline_json.h"
#include "common/tokenizer/json_fields.h"

namespace plumb::tokenizer {
namespace {

using json_fields::Describe;
using json_fields::FieldError;
using json_fields::Find;
using json_fields::Json;

absl::StatusOr<std::pair<std::string, std::string>> ParseMerge(const Json& entry,
                                                               const std::string& field) {
  const auto bad = [&] {
    return FieldError(field, absl::StrCat("expected \"left right\" or [\"left\", \"right\"], got ",
                                          Describe(entry)));
  };
  if (entry.is_string()) {
    const auto text = entry.get<std::string>();
    const size_t space = text.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == text.size() ||
        text.find(' ', space + 1) != std::string::npos) {
      return bad();
    }
    return std::make_pair(text.substr(0, space), text.substr(space + 1));
  }
  if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string() &&
      !entry[0].get<std::string>().empty() && !entry[1].get<std::string>().empty()) {
    return std::make_pair(entry[0].get<std::string>(), entry[1].get<std::string>());
  }
  return bad();
}

absl::Status ParseModel(const Json& root, BpeModelSpec* model) {
  const Json* node = Find(root, "model");
  if (node == nullptr) {
    return absl::InvalidArgumentError("missing field \"model\" (the vocabulary and merges)");
  }
  if (!node->is_object()) {
    return FieldError("model", absl::StrCat("expected an object, got ", Describe(*node)));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> type, json_fields::GetString(*node, "type", "model"));
  if (!type.has_value() && Find(*node, "merges") == nullptr) {
    return FieldError("model.type", "missing, and the model has no merges; only BPE is supported");
  }
  if (type.has_value() && *type != "BPE") {
    return json_fields::Unsupported("model.type", *type,
                                    "; Plumb reads byte-level \"BPE\" models only");
  }

  const Json* vocab = Find(*node, "vocab");
  if (vocab == nullptr || !vocab->is_object()) {
    return FieldError("model.vocab", absl::StrCat("expected an object of token -> id, got ",
                                                  vocab == nullptr ? "nothing" : Describe(*vocab)));
  }
  model->vocab.reserve(vocab->size());
  for (const auto& [token, id] : vocab->items()) {
    ASSIGN_OR_RETURN(int32_t value,
                     json_fields::ToInt32(id, absl::StrCat("model.vocab[", Echo(token), "]")));
    model->vocab.emplace(token, value);
  }

  if (const Json* merges = Find(*node, "merges")) {
    if (!merges->is_array()) {
      return FieldError("model.merges", absl::StrCat("expected a list, got ", Describe(*merges)));
    }
    model->merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      ASSIGN_OR_RETURN(auto merge, ParseMerge((*merges)[i], absl::StrCat("model.merges[", i, "]")));
      model->merges.push_back(std::move(merge));
    }
  }
  model->merges_label = "model.merges";

  if (const Json* dropout = Find(*node, "dropout")) {
    if (!dropout->is_number() || dropout->get<double>() != 0.0) {
      return FieldError("model.dropout",
                        absl::StrCat(Describe(*dropout),
                                     " is not supported: BPE dropout randomizes encodings for "
                                     "training; set it to null"));
    }
  }
  for (absl::string_view key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    ASSIGN_OR_RETURN(std::optional<std::string> affix, json_fields::GetString(*node, key, "model"));
    if (affix.has_value() && !affix->empty()) {
      return FieldError(json_fields::Join("model", key),
                        absl::StrCat("\"", *affix, "\" is not supported by byte-level BPE"));
    }
  }
  ASSIGN_OR_RETURN(bool byte_fallback,
                   json_fields::GetBool(*node, "byte_fallback", "model", false));
  if (byte_fallback) {
    return FieldError("model.byte_fallback",
                      "true is not supported: it belongs to SentencePiece-style BPE with <0x..> "
                      "tokens, and Plumb reads byte-level BPE");
  }
  ASSIGN_OR_RETURN(model->ignore_merges,
                   json_fields::GetBool(*node, "ignore_merges", "model", false));
  return absl::OkStatus();
}

absl::Status ParseAddedTokens(const Json& root, std::vector<AddedToken>* tokens) {
  const Json* list = Find(root, "added_tokens");
  if (list == nullptr) return absl::OkStatus();
  if (!list->is_array()) {
    return FieldError("added_tokens", absl::StrCat("expected a list, got ", Describe(*list)));
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& entry = (*list)[i];
    const std::string path = absl::StrCat("added_tokens[", i, "]");
    if (!entry.is_object()) {
      return FieldError(path, absl::StrCat("expected an object, got ", Describe(entry)));
    }
    AddedToken token;
    const Json* id = Find(entry, "id");
    if (id == nullptr) return FieldError(path + ".id", "missing");
    ASSIGN_OR_RETURN(token.id, json_fields::ToInt32(*id, path + ".id"));
    ASSIGN_OR_RETURN(token.content, json_fields::GetRequiredString(entry, "content", path));
    if (token.content.empty()) return FieldError(path + ".content", "empty");
    ASSIGN_OR_RETURN(token.special, json_fields::GetBool(entry, "special", path, false));
    for (absl::string_view flag : {"single_word", "lstrip", "rstrip"}) {
      ASSIGN_OR_RETURN(bool set, json_fields::GetBool(entry, flag, path, false));
      if (set) {
        return FieldError(json_fields::Join(path, flag),
                          absl::StrCat("true is not supported (token ", Echo(token.content), ")"));
      }
    }
    tokens->push_back(std::move(token));
  }
  return absl::OkStatus();
}

absl::Status CheckAbsent(const Json& root, absl::string_view key, absl::string_view why) {
  if (const Json* value = Find(root, key)) {
    return FieldError(
        key, absl::StrCat(Describe(*value), " is not supported; set it to null (", why, ")"));
  }
  return absl::OkStatus();
}

absl::Status ParseRoot(const Json& root, BpeTokenizerSpec* spec) {
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a JSON object at the top level, got ", Describe(root)));
  }
  RETURN_IF_ERROR(CheckAbsent(root, "truncation", "callers cut token sequences themselves"));
  RETURN_IF_ERROR(CheckAbsent(root, "padding", "callers pad batches themselves"));
  RETURN_IF_ERROR(ParseModel(root, &spec->model));
  RETURN_IF_ERROR(ParseAddedTokens(root, &spec->added_tokens));
  RETURN_IF_ERROR(ParseHfNormalizer(root, &spec->pre_tokenizer));
  RETURN_IF_ERROR(ParseHfPreTokenizer(root, &spec->pre_tokenizer));
  return CheckHfDecoder(root);
}

absl::StatusOr<std::optional<std::string>> ParseRole(const Json& root, absl::string_view key) {
  const Json* value = Find(root, key);
  if (value == nullptr) return std::optional<std::string>();
  if (value->is_string()) return std::optional<std::string>(value->get<std::string>());
  if (value->is_object()) {
    ASSIGN_OR_RETURN(std::string content, json_fields::GetRequiredString(*value, "content", key));
    return std::optional<std::string>(std::move(content));
  }
  return FieldError(
      key, absl::StrCat("expected a string or {\"content\": ...}, got ", Describe(*value)));
}

}  // namespace

absl::StatusOr<BpeTokenizerSpec> ParseHfTokenizerJson(absl::string_view json,
                                                      absl::string_view source) {
  ASSIGN_OR_RETURN(Json root, json_fields::ParseJson(json, source));
  BpeTokenizerSpec spec;
  RETURN_IF_ERROR(Annotate(ParseRoot(root, &spec), source));
  spec.source = std::string(source);
  return spec;
}

absl::StatusOr<SpecialTokenNames> ParseHfTokenizerConfig(absl::string_view json,
                                                         absl::string_view source) {
  ASSIGN_OR_RETURN(Json root, json_fields::ParseJson(json, source));
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a JSON object at the top level"));
  }
  SpecialTokenNames names;
  absl::Status status = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(names.bos, ParseRole(root, "bos_token"));
    ASSIGN_OR_RETURN(names.eos, ParseRole(root, "eos_token"));
    ASSIGN_OR_RETURN(names.pad, ParseRole(root, "pad_token"));
    return absl::OkStatus();
  }();
  RETURN_IF_ERROR(Annotate(status, source));
  return names;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadHfTokenizerJson(const std::string& path) {
  ASSIGN_OR_RETURN(std::string json, checkpoint::ReadFileToString(path));
  ASSIGN_OR_RETURN(BpeTokenizerSpec spec, ParseHfTokenizerJson(json, path));
  const std::filesystem::path config_path =
      std::filesystem::path(path).parent_path() / "tokenizer_config.json";
  std::error_code error;
  if (std::filesystem::is_regular_file(config_path, error)) {
    ASSIGN_OR_RETURN(std::string config, checkpoint::ReadFileToString(config_path.string()));
    ASSIGN_OR_RETURN(spec.special_names, ParseHfTokenizerConfig(config, config_path.string()));
  } else {
    spec.special_names = GuessSpecialTokenNames([&](absl::string_view token) {
      if (spec.model.vocab.contains(token)) return true;
      for (const AddedToken& added_token : spec.added_tokens) {
        if (added_token.content == token) return true;
      }
      return false;
    });
  }
  auto tokenizer = BpeTokenizer::Create(std::move(spec));
  if (!tokenizer.ok()) return Annotate(tokenizer.status(), path);
  return tokenizer;
}

}  // namespace plumb::tokenizer
