#include "services/plumb-scorer/judge_template.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status_macros.h"

namespace plumb::scorer {
namespace {

// Replaces each "{name}" whose name is a key of `values` in one left-to-right pass; inserted
// text is never scanned again, and other braces stay as written.
std::string Fill(absl::string_view format, const std::map<std::string, absl::string_view>& values) {
  std::string out;
  out.reserve(format.size());
  size_t i = 0;
  while (i < format.size()) {
    if (format[i] == '{') {
      const size_t close = format.find('}', i + 1);
      if (close != absl::string_view::npos) {
        auto it = values.find(std::string(format.substr(i + 1, close - i - 1)));
        if (it != values.end()) {
          out.append(it->second.data(), it->second.size());
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(format[i]);
    ++i;
  }
  return out;
}

bool ValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

absl::StatusOr<std::vector<JudgePrinciple>> ReadPrinciples(config::ConfigMap& m) {
  std::vector<JudgePrinciple> principles;
  ASSIGN_OR_RETURN(std::vector<config::ConfigMap> items,
                   m.Children("principles", kMaxJudgePrinciples));
  std::set<std::string> names;
  for (config::ConfigMap& item : items) {
    JudgePrinciple p;
    RETURN_IF_ERROR(item.Read("name", &p.name));
    RETURN_IF_ERROR(item.Read("text", &p.text));
    if (!ValidName(p.name)) {
      return item.Error("name", "needs 1-64 characters of [A-Za-z0-9_-], e.g. `name: harmless`");
    }
    if (p.text.empty()) {
      return item.Error("text",
                        "is empty; write the question the judge answers, e.g. `text: "
                        "Which response is less harmful?`");
    }
    if (!names.insert(p.name).second) return item.Error("name", "repeats an earlier principle");
    RETURN_IF_ERROR(item.Finish());
    principles.push_back(std::move(p));
  }
  return principles;
}

absl::Status ReadLabels(config::ConfigMap& m, absl::string_view key, size_t min,
                        std::vector<std::string>* labels) {
  if (!m.Has(key)) return absl::OkStatus();
  RETURN_IF_ERROR(m.Read(key, labels));
  if (labels->size() < min || labels->size() > kMaxJudgeLabels) {
    return m.Error(key, absl::StrCat("needs ", min == 2 ? "exactly 2" : "2 to 100", " labels, got ",
                                     labels->size()));
  }
  std::set<std::string> seen;
  for (const std::string& label : *labels) {
    if (label.empty()) return m.Error(key, "holds an empty label");
    if (!seen.insert(label).second) {
      return m.Error(key, absl::StrCat("repeats the label '", label, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JudgeTemplate> ParseJudgeTemplate(config::ConfigMap& m) {
  JudgeTemplate t;
  RETURN_IF_ERROR(m.Read("preamble", &t.preamble));
  RETURN_IF_ERROR(m.Read("comparison", &t.comparison));
  RETURN_IF_ERROR(m.Read("ending", &t.ending));
  RETURN_IF_ERROR(ReadLabels(m, "labels", 2, &t.labels));
  if (t.labels.size() != 2) return m.Error("labels", "needs exactly 2 labels (A, then B)");
  RETURN_IF_ERROR(m.Read("rating", &t.rating));
  RETURN_IF_ERROR(m.Read("rating_ending", &t.rating_ending));
  RETURN_IF_ERROR(ReadLabels(m, "rating_labels", 2, &t.rating_labels));
  RETURN_IF_ERROR(m.Read("separator", &t.separator));
  ASSIGN_OR_RETURN(std::vector<config::ConfigMap> examples,
                   m.Children("few_shot", kMaxJudgeExamples));
  for (config::ConfigMap& item : examples) {
    JudgeExample example;
    RETURN_IF_ERROR(item.Read("context", &example.context));
    RETURN_IF_ERROR(item.Read("response_a", &example.response_a));
    RETURN_IF_ERROR(item.Read("response_b", &example.response_b));
    std::string preferred;
    RETURN_IF_ERROR(item.ReadChoice("preferred", &preferred, {"A", "B"}));
    if (preferred.empty()) return item.Error("preferred", "missing; add `preferred: A` or `B`");
    example.preferred = preferred == "A" ? 0 : 1;
    RETURN_IF_ERROR(item.Finish());
    t.few_shot.push_back(std::move(example));
  }
  ASSIGN_OR_RETURN(t.principles, ReadPrinciples(m));
  RETURN_IF_ERROR(m.Read("default_principle", &t.default_principle));
  std::string mode = "one";
  RETURN_IF_ERROR(m.ReadChoice("principle_mode", &mode, {"one", "all"}));
  t.principle_mode = mode == "all" ? PrincipleMode::kAll : PrincipleMode::kOne;
  RETURN_IF_ERROR(m.Read("position_debias", &t.position_debias));
  RETURN_IF_ERROR(m.Finish());
  return t;
}

absl::Status ValidateJudgeTemplate(const JudgeTemplate& t, absl::string_view source) {
  auto fail = [&](absl::string_view key, absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": key '", key, "': ", message));
  };
  for (absl::string_view placeholder : {"{context}", "{response_a}", "{response_b}"}) {
    if (!absl::StrContains(t.comparison, placeholder)) {
      return fail("comparison", absl::StrCat("has no ", placeholder,
                                             " placeholder; the sample to annotate needs "
                                             "{context}, {response_a} and {response_b}"));
    }
  }
  for (absl::string_view placeholder : {"{context}", "{response}"}) {
    if (!absl::StrContains(t.rating, placeholder)) {
      return fail("rating", absl::StrCat("has no ", placeholder,
                                         " placeholder; a rating sample needs {context} and "
                                         "{response}"));
    }
  }
  if (t.labels.size() != 2) return fail("labels", "needs exactly 2 labels (A, then B)");
  if (t.rating_labels.size() < 2) return fail("rating_labels", "needs at least 2 labels");
  if (t.ending.empty()) return fail("ending", "is empty; e.g. `ending: \"\\nPreferred Answer =\"`");
  if (!t.principles.empty() && !absl::StrContains(t.preamble, "{principle}") &&
      !absl::StrContains(t.comparison, "{principle}")) {
    return fail("principles",
                "the constitution has principles but neither the preamble nor the comparison "
                "holds {principle}; add it where the principle's text belongs");
  }
  if (!t.default_principle.empty() &&
      std::none_of(t.principles.begin(), t.principles.end(),
                   [&](const JudgePrinciple& p) { return p.name == t.default_principle; })) {
    return fail("default_principle",
                absl::StrCat("names '", t.default_principle, "', which the constitution lacks"));
  }
  for (const JudgeExample& e : t.few_shot) {
    if (e.preferred != 0 && e.preferred != 1) return fail("few_shot", "preferred must be A or B");
  }
  return absl::OkStatus();
}

absl::StatusOr<JudgeTemplate> LoadJudgeTemplate(const std::string& template_path,
                                                const std::string& constitution_path) {
  ASSIGN_OR_RETURN(config::ConfigMap root, config::ConfigMap::FromFile(template_path));
  ASSIGN_OR_RETURN(JudgeTemplate t, ParseJudgeTemplate(root));
  std::string source = template_path;
  if (!constitution_path.empty()) {
    ASSIGN_OR_RETURN(config::ConfigMap constitution,
                     config::ConfigMap::FromFile(constitution_path));
    ASSIGN_OR_RETURN(t.principles, ReadPrinciples(constitution));
    // The constitution brings its own default (or none: its first principle).
    t.default_principle.clear();
    RETURN_IF_ERROR(constitution.Read("default_principle", &t.default_principle));
    RETURN_IF_ERROR(constitution.Finish());
    if (t.principles.empty()) {
      return constitution.Error("principles",
                                "the constitution has no principles; list them as "
                                "`principles: [{name: harmless, text: \"Which response is less "
                                "harmful?\"}]`");
    }
    source = absl::StrCat(template_path, " with ", constitution_path);
  }
  RETURN_IF_ERROR(ValidateJudgeTemplate(t, source));
  return t;
}

absl::StatusOr<std::string> ResolvePrinciple(const JudgeTemplate& t, absl::string_view requested) {
  if (t.principles.empty()) {
    if (requested.empty()) return std::string();
    return absl::InvalidArgumentError(
        absl::StrCat("principle '", requested, "': this judge has no constitution"));
  }
  if (requested.empty()) {
    return t.default_principle.empty() ? t.principles.front().name : t.default_principle;
  }
  for (const JudgePrinciple& p : t.principles) {
    if (p.name == requested) return p.name;
  }
  std::vector<std::string> names;
  for (const JudgePrinciple& p : t.principles) names.push_back(p.name);
  return absl::InvalidArgumentError(absl::StrCat("principle '", requested.substr(0, 64),
                                                 "' is not in the judge's constitution (",
                                                 absl::StrJoin(names, ", "), ")"));
}

namespace {

// What {principle} becomes: the named principle's text, or every principle as "- text" lines.
std::string PrincipleText(const JudgeTemplate& t, absl::string_view principle) {
  if (t.principle_mode == PrincipleMode::kAll) {
    std::vector<std::string> lines;
    for (const JudgePrinciple& p : t.principles) lines.push_back(absl::StrCat("- ", p.text));
    return absl::StrJoin(lines, "\n");
  }
  for (const JudgePrinciple& p : t.principles) {
    if (p.name == principle) return p.text;
  }
  return "";
}

std::string Join(const std::string& preamble, std::vector<std::string> parts,
                 const std::string& separator) {
  if (!preamble.empty()) parts.insert(parts.begin(), preamble);
  return absl::StrJoin(parts, separator);
}

}  // namespace

std::string RenderComparison(const JudgeTemplate& t, absl::string_view principle,
                             absl::string_view context, absl::string_view response_a,
                             absl::string_view response_b) {
  const std::string principle_text = PrincipleText(t, principle);
  const std::string preamble = Fill(t.preamble, {{"principle", principle_text}});
  std::vector<std::string> parts;
  for (const JudgeExample& e : t.few_shot) {
    parts.push_back(absl::StrCat(Fill(t.comparison, {{"principle", principle_text},
                                                     {"context", e.context},
                                                     {"response_a", e.response_a},
                                                     {"response_b", e.response_b}}),
                                 t.ending, t.labels[e.preferred]));
  }
  parts.push_back(absl::StrCat(Fill(t.comparison, {{"principle", principle_text},
                                                   {"context", context},
                                                   {"response_a", response_a},
                                                   {"response_b", response_b}}),
                               t.ending));
  return Join(preamble, std::move(parts), t.separator);
}

std::string RenderRating(const JudgeTemplate& t, absl::string_view principle,
                         absl::string_view context, absl::string_view response) {
  const std::string principle_text = PrincipleText(t, principle);
  const std::string preamble = Fill(t.preamble, {{"principle", principle_text}});
  std::vector<std::string> parts = {absl::StrCat(
      Fill(t.rating, {{"principle", principle_text}, {"context", context}, {"response", response}}),
      t.rating_ending)};
  return Join(preamble, std::move(parts), t.separator);
}

double PreferenceFromLabelLogProbs(double logp_first, double logp_second) {
  // sigmoid(l1 - l2), written to stay finite for large differences.
  const double d = logp_first - logp_second;
  if (d >= 0) return 1.0 / (1.0 + std::exp(-d));
  const double e = std::exp(d);
  return e / (1.0 + e);
}

double DebiasedPreference(double p_a_when_first, double p_a_when_second) {
  return 0.5 * (p_a_when_first + (1.0 - p_a_when_second));
}

double RatingFromLabelLogProbs(absl::Span<const double> logps) {
  if (logps.size() < 2) return 0.0;
  const double top = *std::max_element(logps.begin(), logps.end());
  double total = 0, expected = 0;
  for (size_t k = 0; k < logps.size(); ++k) {
    const double w = std::exp(logps[k] - top);
    total += w;
    expected += w * static_cast<double>(k + 1);
  }
  return (expected / total - 1.0) / static_cast<double>(logps.size() - 1);
}

}  // namespace plumb::scorer
