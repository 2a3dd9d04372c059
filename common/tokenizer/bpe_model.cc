#include "common/tokenizer/bpe_model.h"

#include <queue>

#include "absl/strings/str_cat.h"
#include "common/status/echo.h"
#include "common/tokenizer/byte_level_alphabet.h"

namespace plumb::tokenizer {
namespace {

// One symbol of the piece being merged; a doubly linked list over a vector, in text order.
struct Symbol {
  int32_t id;
  int32_t prev;  // index of the previous live symbol, -1 if none
  int32_t next;  // index of the next live symbol, -1 if none
  bool live;
};

// A merge that may apply to the symbol at `left` and the one after it. Candidates go stale when
// a neighbour merges; they are re-checked when popped.
struct Candidate {
  int32_t rank;
  int32_t left;
  bool operator>(const Candidate& other) const {
    return rank != other.rank ? rank > other.rank : left > other.left;
  }
};

}  // namespace

absl::StatusOr<BpeModel> BpeModel::Create(const BpeModelSpec& spec) {
  BpeModel model;
  for (int byte = 0; byte < 256; ++byte) {
    const std::string spelling = BytesToByteLevel(std::string(1, static_cast<char>(byte)));
    auto it = spec.vocab.find(spelling);
    if (it == spec.vocab.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the vocabulary has no token for byte 0x", absl::Hex(byte, absl::kZeroPad2), " (",
          Echo(spelling), "); a byte-level BPE needs all 256 single-byte tokens"));
    }
    model.byte_ids_[byte] = it->second;
  }
  model.merges_.reserve(spec.merges.size());
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const std::string& left = spec.merges[rank].first;
    const std::string& right = spec.merges[rank].second;
    const auto where = [&] {
      return absl::StrCat(spec.merges_label, "[", rank, "] (", Echo(left), ", ", Echo(right), ")");
    };
    auto left_it = spec.vocab.find(left);
    auto right_it = spec.vocab.find(right);
    auto result_it = spec.vocab.find(absl::StrCat(left, right));
    if (left_it == spec.vocab.end() || right_it == spec.vocab.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": ", Echo(left_it == spec.vocab.end() ? left : right),
                       " is not in the vocabulary"));
    }
    if (result_it == spec.vocab.end()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), ": the merged token ",
                                                     Echo(absl::StrCat(left, right)),
                                                     " is not in the vocabulary"));
    }
    // A repeated merge takes its last rank, as in GPT-2's and Hugging Face's encoders.
    model.merges_[PairKey(left_it->second, right_it->second)] =
        Merge{static_cast<int32_t>(rank), result_it->second};
  }
  model.ignore_merges_ = spec.ignore_merges;
  if (spec.ignore_merges) {
    for (const auto& [spelling, id] : spec.vocab) {
      std::optional<std::string> bytes = ByteLevelToBytes(spelling);
      if (bytes.has_value()) model.raw_vocab_.emplace(std::move(*bytes), id);
    }
  }
  return model;
}

const BpeModel::Merge* BpeModel::FindMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeModel::Encode(absl::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.size() == 1) {
    ids->push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = raw_vocab_.find(piece);
    if (it != raw_vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  const auto n = static_cast<int32_t>(piece.size());
  std::vector<Symbol> symbols(n);
  for (int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  const auto consider = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    if (const Merge* merge = FindMerge(symbols[left].id, symbols[symbols[left].next].id)) {
      queue.push({merge->rank, left});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!queue.empty()) {
    // Apply the lowest-ranked merge at every place it (still) occurs, left to right, before any
    // other merge: the order of GPT-2's reference encoder. Candidates of one rank pop in text
    // order, and merges made here never create a candidate of the same rank.
    const int32_t rank = queue.top().rank;
    std::vector<int32_t> merged_at;
    while (!queue.empty() && queue.top().rank == rank) {
      const int32_t left = queue.top().left;
      queue.pop();
      Symbol& symbol = symbols[left];
      if (!symbol.live || symbol.next < 0) continue;
      const Merge* merge = FindMerge(symbol.id, symbols[symbol.next].id);
      if (merge == nullptr || merge->rank != rank) continue;  // stale
      Symbol& right = symbols[symbol.next];
      right.live = false;
      symbol.id = merge->result;
      symbol.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = left;
      merged_at.push_back(left);
    }
    for (int32_t left : merged_at) {
      if (!symbols[left].live) continue;
      consider(symbols[left].prev);
      consider(left);
    }
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) ids->push_back(symbols[i].id);
}

}  // namespace plumb::tokenizer
