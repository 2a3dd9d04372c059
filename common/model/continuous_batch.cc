#include "common/model/continuous_batch.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/model/cpu_decode.h"

namespace plumb::model {

struct ContinuousBatch::Row {
  bool used = false;
  BatchSequence sequence;
  uint64_t prompt_key = 0;
  at::Tensor hidden;  // [H]: the state that predicts the next token
  SampledSequence result;
};

ContinuousBatch::ContinuousBatch(TransformerImpl& model, int64_t slots, int64_t capacity)
    : model_(&model), slots_(slots), capacity_(capacity), rows_(static_cast<size_t>(slots)) {}

void ContinuousBatch::Grow(int64_t rows, int64_t positions) {
  const int64_t have_rows = cache_.key_valid.defined() ? cache_.key_valid.size(0) : 0;
  const int64_t have_positions = cache_.capacity();
  if (rows <= have_rows && positions <= have_positions) return;
  const int64_t new_rows =
      std::min(slots_, std::max({rows, have_rows, std::min<int64_t>(2 * have_rows, slots_)}));
  const int64_t new_positions = std::min(
      capacity_,
      std::max({positions, have_positions, std::min<int64_t>(2 * have_positions, capacity_)}));
  torch::NoGradGuard no_grad;
  KvCache grown = model_->NewCache(new_rows, new_positions);
  if (have_rows > 0 && cache_.length > 0) {
    for (size_t l = 0; l < cache_.keys.size(); ++l) {
      grown.keys[l]
          .narrow(0, 0, have_rows)
          .narrow(2, 0, cache_.length)
          .copy_(cache_.keys[l].narrow(2, 0, cache_.length));
      grown.values[l]
          .narrow(0, 0, have_rows)
          .narrow(2, 0, cache_.length)
          .copy_(cache_.values[l].narrow(2, 0, cache_.length));
    }
    grown.key_valid.narrow(0, 0, have_rows)
        .narrow(1, 0, cache_.length)
        .copy_(cache_.key_valid.narrow(1, 0, cache_.length));
  }
  grown.length = cache_.length;
  cache_ = std::move(grown);
}

void ContinuousBatch::Reset() {
  cache_.length = 0;
  if (cache_.key_valid.defined()) cache_.key_valid.fill_(false);
}

absl::Status ContinuousBatch::Rebind(TransformerImpl& model) {
  if (active_ > 0) {
    return absl::FailedPreconditionError("a batch can change models only while it is empty");
  }
  model_ = &model;
  return absl::OkStatus();
}

ContinuousBatch::~ContinuousBatch() = default;

bool ContinuousBatch::Fits(int64_t count, int64_t prompt_length, int64_t max_new_tokens) const {
  if (count > slots_ - active_) return false;
  int64_t need = max_new_tokens;
  for (const Row& row : rows_) {
    if (!row.used) continue;
    need = std::max<int64_t>(
        need, row.sequence.options.max_new_tokens - static_cast<int64_t>(row.result.tokens.size()));
  }
  return std::max(cache_.length, prompt_length) + need <= capacity_;
}

KvCache ContinuousBatch::View(int64_t rows) {
  KvCache view;
  for (size_t l = 0; l < cache_.keys.size(); ++l) {
    view.keys.push_back(cache_.keys[l].narrow(0, 0, rows));
    view.values.push_back(cache_.values[l].narrow(0, 0, rows));
  }
  view.key_valid = cache_.key_valid.narrow(0, 0, rows);
  view.length = cache_.length;
  return view;
}

absl::Status ContinuousBatch::Add(const std::vector<BatchSequence>& sequences) {
  if (sequences.empty()) return absl::OkStatus();
  int64_t longest = 0, most_new = 0;
  for (const BatchSequence& s : sequences) {
    SamplingOptions one = s.options;
    one.num_samples = 1;
    one.prompt_seeds.clear();
    if (absl::Status status = ValidateSampling(model_->config(), {s.prompt}, one); !status.ok()) {
      return status;
    }
    longest = std::max<int64_t>(longest, s.prompt.size());
    most_new = std::max(most_new, s.options.max_new_tokens);
  }
  if (!Fits(static_cast<int64_t>(sequences.size()), longest, most_new)) {
    return absl::InvalidArgumentError(
        absl::StrCat(sequences.size(), " sequences of up to ", longest, " + ", most_new,
                     " tokens do not fit the batch now (", slots_ - active_, " free rows, ",
                     capacity_, " positions, ", cache_.length, " in use)"));
  }
  torch::NoGradGuard no_grad;
  const auto device = model_->embed_tokens().device();
  const int64_t n = static_cast<int64_t>(sequences.size());
  {
    // Rows up to the highest slot the newcomers take, positions for every sequence's future.
    int64_t highest = -1, free_seen = 0;
    for (int64_t slot = 0; slot < slots_ && free_seen < n; ++slot) {
      if (!rows_[slot].used) {
        ++free_seen;
        highest = slot;
      }
    }
    int64_t need = most_new;
    for (const Row& row : rows_) {
      if (row.used) {
        need = std::max<int64_t>(need, row.sequence.options.max_new_tokens -
                                           static_cast<int64_t>(row.result.tokens.size()));
      }
    }
    Grow(highest + 1, std::max(cache_.length, longest) + need);
  }
  // Prefill the newcomers together (left-padded), in a cache of their own.
  at::Tensor ids = torch::zeros({n, longest}, torch::kLong);
  at::Tensor mask = torch::zeros({n, longest}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t>& prompt = sequences[i].prompt;
    const int64_t pad = longest - static_cast<int64_t>(prompt.size());
    ids[i].narrow(0, pad, prompt.size()).copy_(torch::tensor(prompt, torch::kLong));
    mask[i].narrow(0, pad, prompt.size()).fill_(1);
  }
  KvCache fresh = model_->NewCache(n, longest);
  const at::Tensor hidden = model_->Forward(ids.to(device), mask.to(device), {}, &fresh);
  // Right-align them at the shared cache's length (advancing it when a prompt is longer: the
  // new positions were never written, so they are invalid for every row already there).
  const int64_t end = std::max(cache_.length, longest);
  cache_.length = end;
  int64_t slot = 0;
  for (int64_t i = 0; i < n; ++i) {
    while (rows_[slot].used) ++slot;
    Row& row = rows_[slot];
    row = Row();
    row.used = true;
    row.sequence = sequences[i];
    row.prompt_key = PromptKey(sequences[i].prompt);
    row.result.sample_index = sequences[i].sample_index;
    row.hidden = hidden[i][longest - 1].clone();
    cache_.key_valid[slot].fill_(false);
    cache_.key_valid[slot].narrow(0, end - longest, longest).copy_(fresh.key_valid[i]);
    for (size_t l = 0; l < cache_.keys.size(); ++l) {
      cache_.keys[l][slot].narrow(1, end - longest, longest).copy_(fresh.keys[l][i]);
      cache_.values[l][slot].narrow(1, end - longest, longest).copy_(fresh.values[l][i]);
    }
    ++active_;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<FinishedSequence>> ContinuousBatch::Step() {
  std::vector<FinishedSequence> finished;
  if (active_ == 0) return finished;
  torch::NoGradGuard no_grad;
  const auto device = model_->embed_tokens().device();
  std::vector<int64_t> order;  // slots of the active rows
  std::vector<at::Tensor> states;
  for (int64_t s = 0; s < slots_; ++s) {
    if (!rows_[s].used) continue;
    order.push_back(s);
    states.push_back(rows_[s].hidden);
  }
  at::Tensor logits = model_->Logits(torch::stack(states)).to(torch::kFloat);
  // A row whose logits are not finite (corrupt weights met by its tokens) fails alone: the other
  // rows of the batch never depend on it.
  const at::Tensor finite = torch::isfinite(logits).all(1).to(torch::kCPU);
  if (!finite.all().item<bool>()) {
    std::vector<int64_t> kept;
    std::vector<int64_t> kept_slots;
    for (size_t i = 0; i < order.size(); ++i) {
      Row& row = rows_[order[i]];
      if (finite[static_cast<int64_t>(i)].item<bool>()) {
        kept.push_back(static_cast<int64_t>(i));
        kept_slots.push_back(order[i]);
        continue;
      }
      FinishedSequence failed{row.sequence.tag, std::move(row.result)};
      failed.error = absl::InternalError(
          absl::StrCat("the model's logits for this sequence are not finite (NaN or Inf) after ",
                       failed.result.tokens.size(), " new tokens; are its weights corrupt?"));
      finished.push_back(std::move(failed));
      row = Row();
      --active_;
    }
    if (active_ == 0) {
      Reset();
      return finished;
    }
    order = std::move(kept_slots);
    logits = logits.index_select(0, torch::tensor(kept, torch::kLong).to(logits.device()));
  }
  // Rows that sample alike (greedy, top_k, top_p) are drawn together.
  std::map<std::tuple<bool, int64_t, double>, std::vector<size_t>> groups;
  for (size_t i = 0; i < order.size(); ++i) {
    const SamplingOptions& o = rows_[order[i]].sequence.options;
    groups[{o.temperature == 0, o.top_k, o.top_p}].push_back(i);
  }
  std::vector<int64_t> tokens(order.size());
  std::vector<float> logprobs(order.size());
  const bool on_cpu = CanDecodeOnCpu(*model_);
  for (const auto& [key, members] : groups) {
    std::vector<at::Tensor> scaled_rows, full_rows;
    std::vector<double> uniforms;
    std::vector<bool> suppressed;
    for (size_t i : members) {
      const Row& row = rows_[order[i]];
      const SamplingOptions& o = row.sequence.options;
      const int64_t step = static_cast<int64_t>(row.result.tokens.size());
      at::Tensor scaled = logits[static_cast<int64_t>(i)];
      if (o.temperature > 0 && o.temperature != 1.0) scaled = scaled / o.temperature;
      full_rows.push_back(scaled);
      const bool suppress = step < o.min_new_tokens && !o.stop_token_ids.empty();
      if (suppress) {
        scaled = scaled.clone();
        scaled.index_fill_(0, torch::tensor(o.stop_token_ids, torch::kLong).to(scaled.device()),
                           -std::numeric_limits<float>::infinity());
      }
      suppressed.push_back(suppress);
      scaled_rows.push_back(scaled);
      uniforms.push_back(SamplingUniform(o.seed, row.prompt_key, row.sequence.sample_index, step));
    }
    const at::Tensor scaled = torch::stack(scaled_rows);
    std::vector<int64_t> group_tokens;
    std::vector<float> group_logprobs;
    const SamplingOptions& first = rows_[order[members.front()]].sequence.options;
    if (on_cpu) {
      SampleRowsCpu(scaled, std::get<0>(key), first.top_k, first.top_p, uniforms, &group_tokens,
                    &group_logprobs);
    } else {
      SampleRowsTensor(scaled, first, uniforms, &group_tokens, &group_logprobs);
    }
    for (size_t j = 0; j < members.size(); ++j) {
      tokens[members[j]] = group_tokens[j];
      logprobs[members[j]] = group_logprobs[j];
      if (suppressed[j]) {
        // The log-prob under the full distribution, as Sample reports it.
        logprobs[members[j]] = at::log_softmax(full_rows[j], -1)[group_tokens[j]].item<float>();
      }
    }
  }
  // Record the tokens; finished rows leave, the others are fed through one decoding step.
  std::vector<int64_t> next(static_cast<size_t>(slots_), 0);
  int64_t used_rows = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    Row& row = rows_[order[i]];
    const SamplingOptions& o = row.sequence.options;
    if (tokens[i] < 0 || !std::isfinite(logprobs[i])) {
      // Nothing was samplable (every token filtered out): this row fails, the others go on.
      FinishedSequence failed{row.sequence.tag, std::move(row.result)};
      failed.error = absl::InternalError(
          absl::StrCat("no token could be sampled after ", failed.result.tokens.size(),
                       " new tokens (the filtered distribution was empty or not finite)"));
      finished.push_back(std::move(failed));
      row = Row();
      --active_;
      continue;
    }
    row.result.tokens.push_back(tokens[i]);
    row.result.logprobs.push_back(logprobs[i]);
    const bool stop = std::find(o.stop_token_ids.begin(), o.stop_token_ids.end(), tokens[i]) !=
                      o.stop_token_ids.end();
    if (stop || static_cast<int64_t>(row.result.tokens.size()) >= o.max_new_tokens) {
      row.result.finish_reason = stop ? FinishReason::kStop : FinishReason::kLength;
      finished.push_back({row.sequence.tag, std::move(row.result)});
      row = Row();
      --active_;
      continue;
    }
    next[order[i]] = tokens[i];
    used_rows = order[i] + 1;
  }
  if (active_ == 0) {
    Reset();
    return finished;
  }
  if (cache_.length + 1 > cache_.capacity()) {
    return absl::InternalError("the continuous batch ran out of cache positions");
  }
  KvCache view = View(used_rows);
  const at::Tensor fed =
      torch::tensor(std::vector<int64_t>(next.begin(), next.begin() + used_rows), torch::kLong)
          .to(device);
  at::Tensor hidden;
  if (on_cpu) {
    hidden = DecodeStepCpu(*model_, fed, &view);
  } else {
    hidden = model_
                 ->Forward(fed.unsqueeze(-1),
                           torch::ones({used_rows, 1}, torch::dtype(torch::kLong).device(device)),
                           {}, &view)
                 .select(1, 0);
  }
  cache_.length = view.length;
  for (int64_t s = 0; s < used_rows; ++s) {
    if (rows_[s].used) rows_[s].hidden = hidden[s].clone();
  }
  return finished;
}

void ContinuousBatch::Drop(const std::function<bool(uint64_t tag)>& matches) {
  for (Row& row : rows_) {
    if (row.used && matches(row.sequence.tag)) {
      row = Row();
      --active_;
    }
  }
  if (active_ == 0) Reset();
}

}  // namespace plumb::model
