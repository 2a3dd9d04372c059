// Pre-tokenization: cutting text into the pieces that BPE then encodes one at a time.
//
// A PreTokenizer runs, per stretch of text between added tokens:
//   1. add_prefix_space: a ' ' in front of text that does not start with one;
//   2. the text is cut into well-formed UTF-8 runs and stray bytes; each stray byte is a piece
//      of its own, so invalid UTF-8 never reaches the regex engine and nothing is lost;
//   3. each UTF-8 run is normalized (NFC, NFKC, ...) when asked;
//   4. each run is split by every RegexSplit in turn (the output pieces of one split feed the
//      next), following the Hugging Face "Split" pre-tokenizer's behaviours.
// Regex matching spends from a work budget (common/regex/match_budget.h): a pattern that
// backtracks catastrophically on some text (/(a+)+$/ on "aaa...a!") stops there instead of
// hanging; Split then still hands over every byte, unsplit past that point, and returns an error.
// Regexes are compiled with ICU; the patterns of GPT-2, Llama 3 and Qwen2 (\p{L}, \p{N},
// (?i:...), \s+(?!\S)) use the same syntax and meaning in ICU as in Oniguruma, Rust's
// fancy-regex and JavaScript. ICU's \s is Unicode White_Space, as in Oniguruma and Python's
// regex (Hugging Face, OpenAI's GPT-2); JavaScript's \s differs only at U+0085 (not space) and
// U+FEFF (space), so the npm reference encoder splits text with those two characters differently.
//
// Thread safety: immutable after Create; Split may run on many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_PRE_TOKENIZER_H_
#define PLUMB_COMMON_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/regex/match_budget.h"

namespace plumb::tokenizer {

// GPT-2's pre-tokenizer regex (also the Hugging Face "ByteLevel" pre-tokenizer's use_regex).
inline constexpr absl::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
// Llama 3's: case-insensitive contractions, digits in groups of at most three.
inline constexpr absl::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2's: as Llama 3's, but every digit is its own piece.
inline constexpr absl::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// What happens to the stretches the pattern matches (the "delimiters") and the gaps between.
enum class SplitBehavior {
  kIsolated,            // matches and gaps are each a piece
  kRemoved,             // gaps are pieces, matches are dropped (loses text)
  kMergedWithPrevious,  // a match joins the gap before it
  kMergedWithNext,      // a match joins the gap after it
  kContiguous,          // consecutive matches form one piece
};

// Patterns longer than this are refused: real pre-tokenizer patterns are < 200 bytes.
inline constexpr size_t kMaxRegexPatternBytes = 4096;

struct RegexSplit {
  std::string pattern;  // ICU regex, or a plain string when `literal`
  bool literal = false;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // the gaps are the delimiters instead of the matches
};

enum class UnicodeNormalization { kNone, kNfc, kNfd, kNfkc, kNfkd };

struct PreTokenizerOptions {
  bool add_prefix_space = false;
  UnicodeNormalization normalization = UnicodeNormalization::kNone;
  std::vector<RegexSplit> splits;
};

class PreTokenizer {
 public:
  // Fails with InvalidArgument, quoting the pattern and ICU's error, when a regex does not
  // compile or is longer than kMaxRegexPatternBytes.
  static absl::StatusOr<std::unique_ptr<PreTokenizer>> Create(PreTokenizerOptions options);
  ~PreTokenizer();

  // Calls on_piece for each non-empty piece of `text` (any bytes), in order. A piece views `text`
  // or a buffer that lives only during the call. Without normalization, prefix space or
  // kRemoved, the pieces concatenate back to `text`. Regex matching spends `budget`; once it is
  // spent (now or by an earlier call) no regex runs, the remaining text is passed on as it stands,
  // and the result is RESOURCE_EXHAUSTED naming the pattern that was running.
  absl::Status Split(absl::string_view text, regex::RegexMatchBudget& budget,
                     absl::FunctionRef<void(absl::string_view)> on_piece) const;
  // As above, with a budget of its own for `text` (RegexBudgetFor).
  absl::Status Split(absl::string_view text,
                     absl::FunctionRef<void(absl::string_view)> on_piece) const;

  // The budget for splitting `bytes` of text: every regex may run over all of it.
  regex::RegexMatchBudget RegexBudgetFor(size_t bytes) const;

  const PreTokenizerOptions& options() const { return options_; }

 private:
  struct Compiled;
  PreTokenizer(PreTokenizerOptions options, std::unique_ptr<Compiled> compiled);

  PreTokenizerOptions options_;
  std::unique_ptr<Compiled> compiled_;
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_PRE_TOKENIZER_H_
