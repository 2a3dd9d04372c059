#include "services/plumb-model/byte_tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "common/checkpoint/file_io.h"
#include "common/tokenizer/byte_level_alphabet.h"
#include "common/tokenizer/byte_tokenizer.h"

namespace plumb::model_tool {
namespace {

using OrderedJson = nlohmann::ordered_json;
using tokenizer::ByteTokenizer;

OrderedJson ByteLevelStep() {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", false},
          {"use_regex", false}};
}

OrderedJson SpecialToken(int32_t id, const std::string& content) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", true}};
}

}  // namespace

std::string ByteTokenizerJson() {
  OrderedJson vocab = OrderedJson::object();
  for (int byte = 0; byte < 256; ++byte) {
    vocab[tokenizer::BytesToByteLevel(std::string(1, static_cast<char>(byte)))] = byte;
  }
  OrderedJson root = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {SpecialToken(ByteTokenizer::kBosId, "<bos>"), SpecialToken(ByteTokenizer::kEosId, "<eos>"),
        SpecialToken(ByteTokenizer::kPadId, "<pad>")}},
      {"normalizer", nullptr},
      {"pre_tokenizer", ByteLevelStep()},
      {"post_processor", nullptr},
      {"decoder", ByteLevelStep()},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"ignore_merges", false},
        {"vocab", vocab},
        {"merges", OrderedJson::array()}}},
  };
  return root.dump(2) + "\n";
}

std::string ByteTokenizerConfigJson() {
  const OrderedJson config = {
      {"tokenizer_class", "PreTrainedTokenizerFast"},
      {"bos_token", "<bos>"},
      {"eos_token", "<eos>"},
      {"pad_token", "<pad>"},
      {"add_bos_token", false},
      {"add_eos_token", false},
      // Decoding must give back the bytes exactly, as the byte tokenizer does.
      {"clean_up_tokenization_spaces", false},
  };
  return config.dump(2) + "\n";
}

absl::Status WriteByteTokenizerFiles(const std::filesystem::path& dir) {
  absl::Status status =
      checkpoint::WriteStringToFileAtomically(dir / "tokenizer.json", ByteTokenizerJson());
  if (!status.ok()) return status;
  return checkpoint::WriteStringToFileAtomically(dir / "tokenizer_config.json",
                                                 ByteTokenizerConfigJson());
}

}  // namespace plumb::model_tool
