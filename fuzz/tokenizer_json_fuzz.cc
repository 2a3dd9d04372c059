// tokenizer.json text -> BpeTokenizer; a tokenizer that loads encodes and decodes a few texts
// (the regex work budget must keep a hostile pattern from hanging).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/tokenizer/bpe_tokenizer.h"
#include "common/tokenizer/hf_tokenizer_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<plumb::tokenizer::BpeTokenizerSpec> spec =
      plumb::tokenizer::ParseHfTokenizerJson(text, "tokenizer.json");
  if (!spec.ok()) return 0;
  absl::StatusOr<std::unique_ptr<plumb::tokenizer::BpeTokenizer>> tokenizer =
      plumb::tokenizer::BpeTokenizer::Create(*std::move(spec));
  if (!tokenizer.ok()) return 0;
  for (const std::string& sample :
       {std::string("Hello world, 123 aaaaaaaaaaaaaaaaaaaaaaaa!\n\n  x"), text.substr(0, 256)}) {
    const std::vector<int32_t> ids =
        (*tokenizer)->Encode(sample, plumb::tokenizer::EncodeOptions{.allow_special = true});
    (void)(*tokenizer)->Decode(ids);
    (void)(*tokenizer)->TryEncode(sample);
  }
  return 0;
}
