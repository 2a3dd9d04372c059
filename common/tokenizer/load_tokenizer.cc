#include "common/tokenizer/load_tokenizer.h"

#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/tokenizer/byte_tokenizer.h"
#include "common/tokenizer/gpt2_vocab_files.h"
#include "common/tokenizer/hf_tokenizer_json.h"

namespace plumb::tokenizer {
namespace {

template <typename T>
absl::StatusOr<std::unique_ptr<Tokenizer>> Upcast(absl::StatusOr<std::unique_ptr<T>> tokenizer) {
  if (!tokenizer.ok()) return tokenizer.status();
  return std::unique_ptr<Tokenizer>(std::move(*tokenizer));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(absl::string_view path_or_name) {
  if (path_or_name == "byte") return Upcast(ByteTokenizer::Create());
  const std::filesystem::path path{std::string(path_or_name)};
  std::error_code error;
  if (std::filesystem::is_regular_file(path, error)) {
    return Upcast(LoadHfTokenizerJson(path.string()));
  }
  if (std::filesystem::is_directory(path, error)) {
    if (std::filesystem::is_regular_file(path / "tokenizer.json", error)) {
      return Upcast(LoadHfTokenizerJson((path / "tokenizer.json").string()));
    }
    if (std::filesystem::is_regular_file(path / "encoder.json", error) &&
        std::filesystem::is_regular_file(path / "vocab.bpe", error)) {
      return Upcast(LoadGpt2VocabFiles(path.string()));
    }
    return absl::NotFoundError(absl::StrCat("tokenizer folder ", path_or_name,
                                            " holds neither tokenizer.json nor GPT-2's "
                                            "encoder.json + vocab.bpe"));
  }
  return absl::NotFoundError(absl::StrCat(
      "tokenizer \"", path_or_name,
      "\" does not exist; expected \"byte\", a tokenizer.json file, or a folder holding "
      "tokenizer.json or encoder.json + vocab.bpe"));
}

}  // namespace plumb::tokenizer
