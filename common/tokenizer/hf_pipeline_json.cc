#include "common/tokenizer/hf_pipeline_json.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace plumb::tokenizer {
namespace {

using json_fields::Describe;
using json_fields::FieldError;
using json_fields::Find;
using json_fields::Join;
using json_fields::Json;

// One pre-tokenizer or normalizer step, Sequences flattened, with its path for errors.
struct Step {
  const Json* node;
  std::string path;
  std::string type;
};

// Flattens `node` (a step or a Sequence holding steps under `list_key`) into *steps. `depth`
// counts the Sequences around `node`; bounding it and the steps keeps the paths (each as long as
// its depth) and the recursion small: 10,000 nested Sequences once took 1.8 GB.
absl::Status Flatten(const Json& node, const std::string& path, absl::string_view list_key,
                     int depth, std::vector<Step>* steps) {
  if (!node.is_object()) {
    return FieldError(path, absl::StrCat("expected an object, got ", Describe(node)));
  }
  ASSIGN_OR_RETURN(std::string type, json_fields::GetRequiredString(node, "type", path));
  if (type != "Sequence") {
    if (steps->size() >= kMaxPipelineSteps) {
      return FieldError(path, absl::StrCat("more than ", kMaxPipelineSteps, " steps"));
    }
    steps->push_back({&node, path, type});
    return absl::OkStatus();
  }
  if (depth >= kMaxSequenceDepth) {
    return FieldError(path, absl::StrCat("Sequences nested deeper than ", kMaxSequenceDepth));
  }
  const Json* list = Find(node, list_key);
  const std::string list_path = Join(path, list_key);
  if (list == nullptr || !list->is_array()) {
    return FieldError(list_path, absl::StrCat("expected a list, got ",
                                              list == nullptr ? "nothing" : Describe(*list)));
  }
  for (size_t i = 0; i < list->size(); ++i) {
    RETURN_IF_ERROR(
        Flatten((*list)[i], absl::StrCat(list_path, "[", i, "]"), list_key, depth + 1, steps));
  }
  return absl::OkStatus();
}

absl::StatusOr<SplitBehavior> ParseBehavior(const Json& node, const std::string& path) {
  ASSIGN_OR_RETURN(std::optional<std::string> behavior,
                   json_fields::GetString(node, "behavior", path));
  if (!behavior.has_value() || *behavior == "Isolated") return SplitBehavior::kIsolated;
  if (*behavior == "Removed") return SplitBehavior::kRemoved;
  if (*behavior == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (*behavior == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (*behavior == "Contiguous") return SplitBehavior::kContiguous;
  return FieldError(Join(path, "behavior"),
                    absl::StrCat("\"", *behavior,
                                 "\" is not one of Isolated, Removed, MergedWithPrevious, "
                                 "MergedWithNext, Contiguous"));
}

absl::StatusOr<RegexSplit> ParseSplit(const Json& node, const std::string& path) {
  RegexSplit split;
  const Json* pattern = Find(node, "pattern");
  const std::string pattern_path = Join(path, "pattern");
  const Json* regex = pattern == nullptr ? nullptr : Find(*pattern, "Regex");
  const Json* literal = pattern == nullptr ? nullptr : Find(*pattern, "String");
  if (regex != nullptr && regex->is_string()) {
    split.pattern = regex->get<std::string>();
  } else if (literal != nullptr && literal->is_string()) {
    split.pattern = literal->get<std::string>();
    split.literal = true;
  } else {
    return FieldError(pattern_path,
                      absl::StrCat("expected {\"Regex\": \"...\"} or {\"String\": \"...\"}, got ",
                                   pattern == nullptr ? "nothing" : Describe(*pattern)));
  }
  ASSIGN_OR_RETURN(split.behavior, ParseBehavior(node, path));
  ASSIGN_OR_RETURN(split.invert, json_fields::GetBool(node, "invert", path, false));
  return split;
}

}  // namespace

absl::Status ParseHfNormalizer(const Json& root, PreTokenizerOptions* options) {
  options->normalization = UnicodeNormalization::kNone;
  const Json* normalizer = Find(root, "normalizer");
  if (normalizer == nullptr) return absl::OkStatus();
  std::vector<Step> steps;
  RETURN_IF_ERROR(Flatten(*normalizer, "normalizer", "normalizers", 0, &steps));
  std::string chosen;
  for (const Step& step : steps) {
    UnicodeNormalization form;
    if (step.type == "NFC") {
      form = UnicodeNormalization::kNfc;
    } else if (step.type == "NFD") {
      form = UnicodeNormalization::kNfd;
    } else if (step.type == "NFKC") {
      form = UnicodeNormalization::kNfkc;
    } else if (step.type == "NFKD") {
      form = UnicodeNormalization::kNfkd;
    } else {
      return json_fields::Unsupported(Join(step.path, "type"), step.type,
                                      ": it changes text, and Plumb applies only the Unicode "
                                      "normalizations NFC, NFD, NFKC and NFKD");
    }
    if (!chosen.empty() && chosen != step.type) {
      return FieldError("normalizer", absl::StrCat("a Sequence of ", chosen, " and ", step.type,
                                                   " is not supported; use one form"));
    }
    chosen = step.type;
    options->normalization = form;
  }
  return absl::OkStatus();
}

absl::Status ParseHfPreTokenizer(const Json& root, PreTokenizerOptions* options) {
  const Json* pre_tokenizer = Find(root, "pre_tokenizer");
  if (pre_tokenizer == nullptr) {
    return FieldError("pre_tokenizer",
                      "missing; a byte-level BPE needs a \"ByteLevel\" pre-tokenizer");
  }
  std::vector<Step> steps;
  RETURN_IF_ERROR(Flatten(*pre_tokenizer, "pre_tokenizer", "pretokenizers", 0, &steps));
  options->splits.clear();
  options->add_prefix_space = false;
  bool byte_level = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    const Json& node = *step.node;
    if (step.type == "ByteLevel") {
      if (i + 1 != steps.size()) {
        return FieldError(step.path,
                          "ByteLevel must be the last pre-tokenizer; splitting text after its "
                          "bytes are remapped is not supported");
      }
      byte_level = true;
      // Hugging Face's ByteLevel defaults both to true.
      ASSIGN_OR_RETURN(options->add_prefix_space,
                       json_fields::GetBool(node, "add_prefix_space", step.path, true));
      ASSIGN_OR_RETURN(bool use_regex, json_fields::GetBool(node, "use_regex", step.path, true));
      if (options->add_prefix_space && !options->splits.empty()) {
        return FieldError(Join(step.path, "add_prefix_space"),
                          "true after a Split is not supported (it would prefix every piece)");
      }
      if (use_regex) options->splits.push_back({.pattern = std::string(kGpt2Pattern)});
    } else if (step.type == "Split") {
      ASSIGN_OR_RETURN(RegexSplit split, ParseSplit(node, step.path));
      options->splits.push_back(std::move(split));
    } else if (step.type == "Digits") {
      ASSIGN_OR_RETURN(bool individual,
                       json_fields::GetBool(node, "individual_digits", step.path, false));
      options->splits.push_back({.pattern = individual ? R"(\p{N})" : R"(\p{N}+)"});
    } else {
      return json_fields::Unsupported(Join(step.path, "type"), step.type,
                                      "; Plumb reads ByteLevel, Split and Digits pre-tokenizers");
    }
  }
  if (!byte_level) {
    return FieldError("pre_tokenizer",
                      "has no ByteLevel step, which a byte-level BPE needs to map bytes to its "
                      "alphabet");
  }
  return absl::OkStatus();
}

absl::Status CheckHfDecoder(const Json& root) {
  const Json* decoder = Find(root, "decoder");
  if (decoder == nullptr) {
    return FieldError("decoder", "missing; a byte-level BPE needs the \"ByteLevel\" decoder");
  }
  std::vector<Step> steps;
  RETURN_IF_ERROR(Flatten(*decoder, "decoder", "decoders", 0, &steps));
  if (steps.empty()) return FieldError("decoder", "an empty Sequence; expected \"ByteLevel\"");
  for (const Step& step : steps) {
    if (step.type != "ByteLevel") {
      return json_fields::Unsupported(Join(step.path, "type"), step.type,
                                      "; a byte-level BPE needs \"ByteLevel\"");
    }
  }
  return absl::OkStatus();
}

}  // namespace plumb::tokenizer
