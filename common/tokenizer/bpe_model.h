// The merge table of a byte-level BPE and the algorithm that applies it to one pre-token.
//
// Vocabulary and merges are given in the byte-level alphabet (byte_level_alphabet.h), as files
// store them; BpeModel turns them into raw bytes and ids once, so encoding never converts
// strings. Encoding a piece starts from one symbol per byte and repeatedly applies the merge of
// lowest rank present, to all of its occurrences left to right, until no merge applies: the
// same result as GPT-2's reference encoder.
//
// Thread safety: immutable after Create; Encode may run on many threads at once.
#ifndef PLUMB_COMMON_TOKENIZER_BPE_MODEL_H_
#define PLUMB_COMMON_TOKENIZER_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb::tokenizer {

struct BpeModelSpec {
  // Byte-level token spelling -> id (ids need not be dense).
  absl::flat_hash_map<std::string, int32_t> vocab;
  // Merges in rank order (rank 0 first), each a pair of byte-level spellings.
  std::vector<std::pair<std::string, std::string>> merges;
  // Hugging Face's model.ignore_merges (Llama 3): a piece that is itself a vocabulary token is
  // emitted whole, without merging.
  bool ignore_merges = false;
  // How errors name the merges, e.g. "model.merges" -> "model.merges[7] ...".
  std::string merges_label = "merges";
};

class BpeModel {
 public:
  // Fails with InvalidArgument when a byte has no single-byte token (the model could not encode
  // every input) or a merge names a token, or makes one, that is not in the vocabulary.
  static absl::StatusOr<BpeModel> Create(const BpeModelSpec& spec);

  // Appends the ids of `piece` (raw bytes, non-empty) to *ids.
  void Encode(absl::string_view piece, std::vector<int32_t>* ids) const;

  int32_t byte_id(uint8_t byte) const { return byte_ids_[byte]; }
  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  static uint64_t PairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  const Merge* FindMerge(int32_t left, int32_t right) const;

  std::array<int32_t, 256> byte_ids_{};
  absl::flat_hash_map<uint64_t, Merge> merges_;  // keyed by PairKey(left id, right id)
  bool ignore_merges_ = false;
  absl::flat_hash_map<std::string, int32_t> raw_vocab_;  // raw bytes -> id; only if ignore_merges
};

}  // namespace plumb::tokenizer

#endif  // PLUMB_COMMON_TOKENIZER_BPE_MODEL_H_
