#include "common/data/line_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace plumb::data {
namespace {

using ::testing::ElementsAre;

const SourcePosition kPosition{"data/train.jsonl", 17, 1234};

FormatSpec Spec(FormatKind kind) { return DefaultFormatSpec(kind); }

template <typename T>
T Parse(absl::string_view line, const FormatSpec& spec) {
  absl::StatusOr<Example> example = ParseLine(line, spec, kPosition);
  EXPECT_TRUE(example.ok()) << example.status();
  if (!example.ok()) return T{};
  EXPECT_EQ(example->source.file, "data/train.jsonl");
  EXPECT_EQ(example->source.line, 17);
  EXPECT_EQ(example->source.byte_offset, 1234u);
  const T* value = std::get_if<T>(&example->value);
  EXPECT_NE(value, nullptr) << "wrong example kind";
  return value == nullptr ? T{} : *value;
}

// The message of a malformed line, checking the code and the reason name.
std::string Malformed(absl::string_view line, const FormatSpec& spec,
                      absl::string_view expected_reason) {
  MalformedReason reason = MalformedReason::kInvalidJson;
  absl::StatusOr<Example> example = ParseLine(line, spec, kPosition, &reason);
  EXPECT_FALSE(example.ok()) << line;
  if (example.ok()) return "";
  EXPECT_EQ(example.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MalformedReasonName(reason), expected_reason) << example.status();
  return std::string(example.status().message());
}

TEST(HhRlhfTest, SplitsTheSharedPromptAtTheLastAssistantMarker) {
  const std::string line =
      R"({"chosen": "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?\n\nAssistant: It is 6.", "rejected": "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?\n\nAssistant: Ask someone else."})";
  const auto pair = Parse<PreferencePair>(line, Spec(FormatKind::kHhRlhf));
  EXPECT_EQ(pair.prompt,
            "\n\nHuman: What is 2+2?\n\nAssistant: 4.\n\nHuman: And 3+3?\n\nAssistant:");
  EXPECT_EQ(pair.chosen, " It is 6.");  // the leading space is kept, as in the data
  EXPECT_EQ(pair.rejected, " Ask someone else.");
  EXPECT_FALSE(pair.margin.has_value());
  EXPECT_FALSE(pair.margin_label.has_value());
}

TEST(HhRlhfTest, TranscriptsThatDivergeInAHumanTurnSplitAtTheLastSharedMarker) {
  const std::string line =
      R"({"chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: joke?\n\nAssistant: no", "rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: poem?\n\nAssistant: roses"})";
  const auto pair = Parse<PreferencePair>(line, Spec(FormatKind::kHhRlhf));
  EXPECT_EQ(pair.prompt, "\n\nHuman: hi\n\nAssistant:");
  EXPECT_EQ(pair.chosen, " hello\n\nHuman: joke?\n\nAssistant: no");
  EXPECT_EQ(pair.rejected, " hello\n\nHuman: poem?\n\nAssistant: roses");
}

TEST(HhRlhfTest, AMarkerCutByTheDivergenceIsNotShared) {
  // The transcripts diverge inside the second "\n\nAssistant:" marker ("Assistant:" vs "Assist").
  const std::string line =
      R"({"chosen": "\n\nHuman: a\n\nAssistant: b\n\nAssistant: c", "rejected": "\n\nHuman: a\n\nAssistant: b\n\nAssist d"})";
  const auto pair = Parse<PreferencePair>(line, Spec(FormatKind::kHhRlhf));
  EXPECT_EQ(pair.prompt, "\n\nHuman: a\n\nAssistant:");
}

TEST(HhRlhfTest, TranscriptsWithoutASharedAssistantTurnAreMalformed) {
  EXPECT_EQ(
      Malformed(
          R"({"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: yo\n\nAssistant: b"})",
          Spec(FormatKind::kHhRlhf), "no_shared_prompt"),
      "data/train.jsonl:17: chosen and rejected share no prompt ending in "
      "'\\n\\nAssistant:'");
}

TEST(HhRlhfTest, IdenticalTranscriptsAreMalformed) {
  EXPECT_EQ(
      Malformed(
          R"({"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: hi\n\nAssistant: a"})",
          Spec(FormatKind::kHhRlhf), "identical_pair"),
      "data/train.jsonl:17: chosen and rejected are identical");
}

TEST(HhRlhfTest, ATranscriptThatEndsAtTheSharedPromptIsMalformed) {
  EXPECT_EQ(
      Malformed(
          R"({"chosen": "\n\nHuman: hi\n\nAssistant:", "rejected": "\n\nHuman: hi\n\nAssistant: a"})",
          Spec(FormatKind::kHhRlhf), "empty_field"),
      "data/train.jsonl:17: field 'chosen' has no reply after the shared prompt");
}

TEST(HhRlhfTest, MissingTranscriptNamesTheFormatAndTheRemapKey) {
  EXPECT_EQ(Malformed(R"({"rejected": "x"})", Spec(FormatKind::kHhRlhf), "missing_field"),
            "data/train.jsonl:17: field 'chosen' is missing (format hh_rlhf; remap with "
            "fields.chosen)");
}

TEST(RmStaticTest, ReadsPromptChosenRejectedAndIgnoresResponse) {
  const auto pair = Parse<PreferencePair>(
      R"({"prompt": "Human: hi Assistant:", "response": " r", "chosen": " c", "rejected": " x"})",
      Spec(FormatKind::kRmStatic));
  EXPECT_EQ(pair.prompt, "Human: hi Assistant:");
  EXPECT_EQ(pair.chosen, " c");
  EXPECT_EQ(pair.rejected, " x");
}

TEST(StackExchangePairedTest, ResponseJIsPreferredOverResponseK) {
  const auto pair = Parse<PreferencePair>(
      R"({"qid": 7, "question": "How?", "response_j": "Like so.", "response_k": "Dunno."})",
      Spec(FormatKind::kStackExchangePaired));
  EXPECT_EQ(pair.prompt, "How?");
  EXPECT_EQ(pair.chosen, "Like so.");
  EXPECT_EQ(pair.rejected, "Dunno.");
}

TEST(StackExchangePairedTest, AMissingRenamedFieldNamesTheJsonKeyAndTheLogicalName) {
  EXPECT_EQ(Malformed(R"({"question": "How?", "response_k": "Dunno."})",
                      Spec(FormatKind::kStackExchangePaired), "missing_field"),
            "data/train.jsonl:17: field 'response_j' is missing (format stack_exchange_paired; "
            "remap with fields.chosen)");
}

TEST(PreferenceTest, RemappedFieldNamesAreRead) {
  FormatSpec spec = Spec(FormatKind::kPreference);
  spec.fields["prompt"] = "question";
  spec.fields["chosen"] = "response_j";
  spec.fields["rejected"] = "response_k";
  const auto pair = Parse<PreferencePair>(
      R"({"question": "q", "response_j": "good", "response_k": "bad", "prompt": 5})", spec);
  EXPECT_EQ(pair.prompt, "q");
  EXPECT_EQ(pair.chosen, "good");
  EXPECT_EQ(pair.rejected, "bad");
}

TEST(PreferenceTest, CarriageReturnAndUtf8PassThrough) {
  const auto pair = Parse<PreferencePair>(
      "{\"prompt\": \"h\xC3\xA9llo \xF0\x9F\x99\x82\", \"chosen\": \"a\", \"rejected\": \"b\"}\r",
      Spec(FormatKind::kPreference));
  EXPECT_EQ(pair.prompt, "h\xC3\xA9llo \xF0\x9F\x99\x82");
}

TEST(PreferenceTest, WrongTypesNameTheFieldAndWhatWasFound) {
  const FormatSpec spec = Spec(FormatKind::kPreference);
  EXPECT_EQ(Malformed(R"({"prompt": "p", "chosen": 5, "rejected": "r"})", spec, "wrong_type"),
            "data/train.jsonl:17: field 'chosen' must be a string, got number 5");
  EXPECT_EQ(Malformed(R"({"prompt": null, "chosen": "c", "rejected": "r"})", spec, "wrong_type"),
            "data/train.jsonl:17: field 'prompt' must be a string, got null");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "chosen": "c", "rejected": ["r"]})", spec, "wrong_type"),
            "data/train.jsonl:17: field 'rejected' must be a string, got array");
}

TEST(PreferenceTest, EmptyPromptOrCompletionIsMalformed) {
  const FormatSpec spec = Spec(FormatKind::kPreference);
  EXPECT_EQ(Malformed(R"({"prompt": "", "chosen": "c", "rejected": "r"})", spec, "empty_field"),
            "data/train.jsonl:17: field 'prompt' is empty");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "chosen": "c", "rejected": ""})", spec, "empty_field"),
            "data/train.jsonl:17: field 'rejected' is empty");
}

TEST(PreferenceTest, IdenticalChosenAndRejectedAreMalformed) {
  EXPECT_EQ(Malformed(R"({"prompt": "p", "chosen": "same", "rejected": "same"})",
                      Spec(FormatKind::kPreference), "identical_pair"),
            "data/train.jsonl:17: chosen and rejected are identical");
}

TEST(LineTest, InvalidJsonQuotesTheParserMessage) {
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", )", Spec(FormatKind::kPreference), "invalid_json"),
      "data/train.jsonl:17: not valid JSON at column 17: syntax error while parsing object key - "
      "unexpected end of input; expected string literal");
  EXPECT_EQ(Malformed("{\"prompt\": \"\xFF\"}", Spec(FormatKind::kPreference), "invalid_json"),
            "data/train.jsonl:17: not valid JSON at column 13: syntax error while parsing value - "
            "invalid string: ill-formed UTF-8 byte; last read: '\"\xFF'");
}

TEST(LineTest, RowsNestedDeeperThanTheJsonLimitAreInvalidJson) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_EQ(Malformed(absl::StrCat(R"({"prompt": "p", "response": "r", "extra": )", deep, "}"),
                      Spec(FormatKind::kSft), "invalid_json"),
            "data/train.jsonl:17: not valid JSON: nested deeper than 64 arrays/objects");
}

TEST(LineTest, ValuesQuotedInMessagesAreBounded) {
  const std::string label(1 << 20, 'x');
  const std::string message =
      Malformed(absl::StrCat(R"({"prompt": "p", "chosen": "c", "rejected": "r", "margin_label": ")",
                             label, R"("})"),
                Spec(FormatKind::kPreference), "unknown_margin_label");
  EXPECT_LT(message.size(), 500u) << message.substr(0, 500);
  EXPECT_THAT(message, ::testing::HasSubstr("...(1048576 bytes)"));
}

TEST(LineTest, JsonThatIsNotAnObjectIsMalformed) {
  const FormatSpec spec = Spec(FormatKind::kSft);
  EXPECT_EQ(Malformed("[1, 2]", spec, "not_an_object"),
            "data/train.jsonl:17: expected a JSON object, got array");
  EXPECT_EQ(Malformed("\"text\"", spec, "not_an_object"),
            "data/train.jsonl:17: expected a JSON object, got string");
  EXPECT_EQ(Malformed("42", spec, "not_an_object"),
            "data/train.jsonl:17: expected a JSON object, got number 42");
}

TEST(MarginTest, Llama2LabelsMapToTheirDefaultMargins) {
  const auto pair = Parse<PreferencePair>(
      R"({"prompt": "p", "chosen": "c", "rejected": "r", "margin_label": "better"})",
      Spec(FormatKind::kPreference));
  EXPECT_EQ(pair.margin_label, "better");
  EXPECT_EQ(pair.margin, 2.0 / 3.0);
  const std::map<std::string, double> expected = {{"significantly_better", 1.0},
                                                  {"better", 2.0 / 3.0},
                                                  {"slightly_better", 1.0 / 3.0},
                                                  {"negligibly_better", 0.0}};
  EXPECT_EQ(DefaultMarginLabels(), expected);
}

TEST(MarginTest, ANumericMarginWinsOverTheLabelAndNullMeansAbsent) {
  const FormatSpec spec = Spec(FormatKind::kHhRlhf);
  const auto both = Parse<PreferencePair>(
      R"({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b", "margin_label": "slightly_better", "margin": 2.5})",
      spec);
  EXPECT_EQ(both.margin_label, "slightly_better");
  EXPECT_EQ(both.margin, 2.5);
  const auto nulls = Parse<PreferencePair>(
      R"({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b", "margin_label": null, "margin": null})",
      spec);
  EXPECT_FALSE(nulls.margin_label.has_value());
  EXPECT_FALSE(nulls.margin.has_value());
}

TEST(MarginTest, UnknownLabelNamesTheLabelAndTheAllowedOnes) {
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", "chosen": "c", "rejected": "r", "margin_label": "much_better"})",
                Spec(FormatKind::kPreference), "unknown_margin_label"),
      "data/train.jsonl:17: margin label 'much_better' in field 'margin_label' is not allowed; "
      "expected one of: better, negligibly_better, significantly_better, slightly_better "
      "(configure with margins)");
}

TEST(MarginTest, ConfiguredLabelsReplaceTheDefaults) {
  FormatSpec spec = Spec(FormatKind::kStackExchangePaired);
  spec.margins = {{"much_better", 3.0}};
  spec.fields["margin_label"] = "strength";
  const auto pair = Parse<PreferencePair>(
      R"({"question": "q", "response_j": "a", "response_k": "b", "strength": "much_better"})",
      spec);
  EXPECT_EQ(pair.margin, 3.0);
  EXPECT_EQ(
      Malformed(R"({"question": "q", "response_j": "a", "response_k": "b", "strength": "better"})",
                spec, "unknown_margin_label"),
      "data/train.jsonl:17: margin label 'better' in field 'strength' is not allowed; expected "
      "one of: much_better (configure with margins)");
}

TEST(MarginTest, MistypedMarginFieldsAreMalformed) {
  const FormatSpec spec = Spec(FormatKind::kPreference);
  EXPECT_EQ(Malformed(R"({"prompt": "p", "chosen": "c", "rejected": "r", "margin": "1"})", spec,
                      "wrong_type"),
            "data/train.jsonl:17: field 'margin' must be a number, got string");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "chosen": "c", "rejected": "r", "margin_label": 1})", spec,
                      "wrong_type"),
            "data/train.jsonl:17: field 'margin_label' must be a string, got number 1");
}

TEST(PreferenceProbabilityTest, AProbabilityInTheUnitIntervalIsRead) {
  const FormatSpec spec = Spec(FormatKind::kPreference);
  const auto pair = Parse<PreferencePair>(
      R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": 0.8})", spec);
  EXPECT_EQ(pair.preference_probability, 0.8);
  EXPECT_FALSE(pair.margin.has_value());
  // The ends, an integer, and beside a margin.
  EXPECT_EQ(
      Parse<PreferencePair>(
          R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": 0})", spec)
          .preference_probability,
      0.0);
  const auto both = Parse<PreferencePair>(
      R"({"prompt": "p", "chosen": "c", "rejected": "r", "margin": 1, "preference_probability": 1.0})",
      spec);
  EXPECT_EQ(both.preference_probability, 1.0);
  EXPECT_EQ(both.margin, 1.0);
}

TEST(PreferenceProbabilityTest, AbsentOrNullMeansNone) {
  const FormatSpec spec = Spec(FormatKind::kPreference);
  EXPECT_FALSE(Parse<PreferencePair>(R"({"prompt": "p", "chosen": "c", "rejected": "r"})", spec)
                   .preference_probability.has_value());
  EXPECT_FALSE(
      Parse<PreferencePair>(
          R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": null})",
          spec)
          .preference_probability.has_value());
}

TEST(PreferenceProbabilityTest, OutsideTheUnitIntervalOrNotANumberIsMalformed) {
  const FormatSpec spec = Spec(FormatKind::kPreference);
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": 1.5})",
                spec, "invalid_probability"),
      "data/train.jsonl:17: field 'preference_probability' is 1.5; a preference probability is a "
      "number in [0, 1] (the probability that chosen is preferred)");
  EXPECT_EQ(
      Malformed(
          R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": -0.25})",
          spec, "invalid_probability"),
      "data/train.jsonl:17: field 'preference_probability' is -0.25; a preference probability is "
      "a number in [0, 1] (the probability that chosen is preferred)");
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": "x"})",
                spec, "wrong_type"),
      "data/train.jsonl:17: field 'preference_probability' must be a number, got string");
  EXPECT_EQ(
      Malformed(
          R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": true})",
          spec, "wrong_type"),
      "data/train.jsonl:17: field 'preference_probability' must be a number, got boolean true");
  // JSON has no infinity: a literal that overflows a double is not valid JSON.
  EXPECT_THAT(
      Malformed(
          R"({"prompt": "p", "chosen": "c", "rejected": "r", "preference_probability": 1e999})",
          spec, "invalid_json"),
      ::testing::HasSubstr("not valid JSON"));
}

TEST(PreferenceProbabilityTest, TheKeyIsConfigurableAndNamedInErrors) {
  FormatSpec spec = Spec(FormatKind::kHhRlhf);
  spec.fields["preference_probability"] = "judge_p";
  const auto pair = Parse<PreferencePair>(
      R"({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b", "judge_p": 0.25, "preference_probability": 7})",
      spec);
  EXPECT_EQ(pair.preference_probability, 0.25);  // the default key is no longer read
  EXPECT_EQ(
      Malformed(
          R"({"chosen": "\n\nHuman: q\n\nAssistant: a", "rejected": "\n\nHuman: q\n\nAssistant: b", "judge_p": 2})",
          spec, "invalid_probability"),
      "data/train.jsonl:17: field 'judge_p' is 2; a preference probability is a number in [0, 1] "
      "(the probability that chosen is preferred)");
}

TEST(KtoTest, ReadsACompletionWithABooleanLabel) {
  const auto example = Parse<UnpairedExample>(
      R"({"prompt": "p", "completion": "c", "label": false})", Spec(FormatKind::kKto));
  EXPECT_EQ(example.prompt, "p");
  EXPECT_EQ(example.completion, "c");
  EXPECT_FALSE(example.desirable);
  EXPECT_TRUE(Parse<UnpairedExample>(R"({"prompt": "p", "completion": "c", "label": true})",
                                     Spec(FormatKind::kKto))
                  .desirable);
}

TEST(KtoTest, LabelsThatAreNotJsonBooleansAreMalformed) {
  const FormatSpec spec = Spec(FormatKind::kKto);
  EXPECT_EQ(Malformed(R"({"prompt": "p", "completion": "c", "label": 1})", spec, "wrong_type"),
            "data/train.jsonl:17: field 'label' must be a boolean (true = desirable), got "
            "number 1");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "completion": "c", "label": "true"})", spec, "wrong_type"),
            "data/train.jsonl:17: field 'label' must be a boolean (true = desirable), got string");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "completion": "c"})", spec, "missing_field"),
            "data/train.jsonl:17: field 'label' is missing (format kto; remap with fields.label)");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "completion": "", "label": true})", spec, "empty_field"),
            "data/train.jsonl:17: field 'completion' is empty");
}

TEST(RankedTest, ReadsResponsesAndRanks) {
  const auto list =
      Parse<RankedList>(R"({"prompt": "p", "responses": ["a", "b", "c"], "ranks": [2, 1, 2]})",
                        Spec(FormatKind::kRanked));
  EXPECT_EQ(list.prompt, "p");
  EXPECT_THAT(list.responses, ElementsAre("a", "b", "c"));
  EXPECT_THAT(list.ranks, ElementsAre(2, 1, 2));
}

TEST(RankedTest, EveryMalformedRankedListIsExplained) {
  const FormatSpec spec = Spec(FormatKind::kRanked);
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", "responses": ["a"], "ranks": [1]})", spec, "too_few_responses"),
      "data/train.jsonl:17: field 'responses' has 1 responses; a ranked list needs at "
      "least 2");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "responses": ["a", "b"], "ranks": [1, 2, 3]})", spec,
                      "ranks_mismatch"),
            "data/train.jsonl:17: field 'ranks' has 3 entries but field 'responses' has 2");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "responses": ["a", "b"], "ranks": [1, 0]})", spec,
                      "invalid_rank"),
            "data/train.jsonl:17: field 'ranks' entry 1 is 0; ranks are integers from 1 (best) "
            "to 2147483647");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "responses": ["a", "b"], "ranks": [1, 3000000000]})", spec,
                      "invalid_rank"),
            "data/train.jsonl:17: field 'ranks' entry 1 is 3000000000; ranks are integers from 1 "
            "(best) to 2147483647");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "responses": ["a", "b"], "ranks": [1, 1.5]})", spec,
                      "wrong_type"),
            "data/train.jsonl:17: field 'ranks' entry 1 must be an integer, got number 1.5");
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", "responses": ["a", "b"], "ranks": "1,2"})", spec, "wrong_type"),
      "data/train.jsonl:17: field 'ranks' must be an array of integers, got string");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "responses": "a", "ranks": [1]})", spec, "wrong_type"),
            "data/train.jsonl:17: field 'responses' must be an array of strings, got string");
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", "responses": ["a", 2], "ranks": [1, 2]})", spec, "wrong_type"),
      "data/train.jsonl:17: field 'responses' entry 1 must be a string, got number 2");
  EXPECT_EQ(
      Malformed(R"({"prompt": "p", "responses": ["", "b"], "ranks": [1, 2]})", spec, "empty_field"),
      "data/train.jsonl:17: field 'responses' entry 0 is empty");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "responses": ["a", "b"]})", spec, "missing_field"),
            "data/train.jsonl:17: field 'ranks' is missing (format ranked; remap with "
            "fields.ranks)");
}

TEST(SftTest, ReadsPromptAndResponseAndAllowsAnEmptyPrompt) {
  const auto example =
      Parse<SftExample>(R"({"prompt": "", "response": "r"})", Spec(FormatKind::kSft));
  EXPECT_EQ(example.prompt, "");
  EXPECT_EQ(example.response, "r");
  EXPECT_EQ(Malformed(R"({"prompt": "p", "response": ""})", Spec(FormatKind::kSft), "empty_field"),
            "data/train.jsonl:17: field 'response' is empty");
}

TEST(SftTest, TextRowsBecomeResponsesWithoutAPrompt) {
  FormatSpec spec = Spec(FormatKind::kText);
  spec.fields["text"] = "content";
  const auto example = Parse<SftExample>(R"({"content": "once upon a time"})", spec);
  EXPECT_EQ(example.prompt, "");
  EXPECT_EQ(example.response, "once upon a time");
  EXPECT_EQ(Malformed(R"({"text": "x"})", spec, "missing_field"),
            "data/train.jsonl:17: field 'content' is missing (format text; remap with "
            "fields.text)");
}

TEST(FormatTest, NamesRoundTripAndPairFormatsHaveMarginFields) {
  for (const std::string& name : AllFormatNames()) {
    const std::optional<FormatKind> kind = FormatKindFromName(name);
    ASSERT_TRUE(kind.has_value()) << name;
    EXPECT_EQ(FormatName(*kind), name);
    EXPECT_EQ(DefaultFormatSpec(*kind).fields.count("margin") == 1, IsPairFormat(*kind)) << name;
    EXPECT_EQ(DefaultFormatSpec(*kind).fields.count("preference_probability") == 1,
              IsPairFormat(*kind))
        << name;
  }
  EXPECT_FALSE(FormatKindFromName("jsonl").has_value());
}

}  // namespace
}  // namespace plumb::data
