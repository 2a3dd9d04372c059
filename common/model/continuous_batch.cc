#include "common/model/continuous_batch.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/model/cpu_decode.h"
#include "common/status/status_macros.h"

namespace plumb::model {

struct ContinuousBatch::Row {
  bool used = false;
  BatchSequence sequence;
  uint64_t prompt_key = 0;
  SampledSequence result;
};

namespace {

// Token sequences left-padded to the longest: ids and attention mask [n, longest] on `device`.
std::pair<at::Tensor, at::Tensor> LeftPadded(const std::vector<std::vector<int64_t>>& sequences,
                                             int64_t longest, const c10::Device& device) {
  const int64_t n = static_cast<int64_t>(sequences.size());
  at::Tensor ids = torch::zeros({n, longest}, torch::kLong);
  at::Tensor mask = torch::zeros({n, longest}, torch::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t>& tokens = sequences[i];
    const int64_t pad = longest - static_cast<int64_t>(tokens.size());
    ids[i].narrow(0, pad, tokens.size()).copy_(torch::tensor(tokens, torch::kLong));
    mask[i].narrow(0, pad, tokens.size()).fill_(1);
  }
  return {ids.to(device), mask.to(device)};
}

}  // namespace

ContinuousBatch::ContinuousBatch(TransformerImpl& model, int64_t slots, int64_t capacity,
                                 bool use_kv_cache)
    : model_(&model),
      slots_(slots),
      capacity_(capacity),
      use_kv_cache_(use_kv_cache),
      rows_(static_cast<size_t>(slots)) {}

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
  if (!hidden_.defined()) {
    hidden_ = torch::zeros({slots_, model_->config().hidden_size},
                           model_->embed_tokens().options().requires_grad(false));
  }
  // The newcomers take the lowest free slots.
  std::vector<int64_t> slots;
  for (int64_t slot = 0; slot < slots_ && static_cast<int64_t>(slots.size()) < n; ++slot) {
    if (!rows_[slot].used) slots.push_back(slot);
  }
  std::vector<std::vector<int64_t>> prompts;
  for (const BatchSequence& s : sequences) prompts.push_back(s.prompt);
  const auto [ids, mask] = LeftPadded(prompts, longest, device);
  // Prefill the newcomers together (left-padded). Without a cache the hidden states are all.
  at::Tensor hidden;
  if (!use_kv_cache_) {
    hidden = model_->Forward(ids, mask);
  } else {
    // Rows up to the highest slot the newcomers take, positions for every sequence's future.
    int64_t need = most_new;
    for (const Row& row : rows_) {
      if (row.used) {
        need = std::max<int64_t>(need, row.sequence.options.max_new_tokens -
                                           static_cast<int64_t>(row.result.tokens.size()));
      }
    }
    Grow(slots.back() + 1, std::max(cache_.length, longest) + need);
    if (active_ == 0) {
      // An empty batch (starting at position 0) prefills straight into its first rows.
      KvCache view = View(n);
      hidden = model_->Forward(ids, mask, {}, &view);
      cache_.length = view.length;
    } else {
      // Else in a cache of their own, right-aligned at the shared cache's length (advancing it
      // when a prompt is longer: the new positions were never written, so they are invalid for
      // every row already there).
      KvCache fresh = model_->NewCache(n, longest);
      hidden = model_->Forward(ids, mask, {}, &fresh);
      const int64_t end = std::max(cache_.length, longest);
      cache_.length = end;
      for (int64_t i = 0; i < n; ++i) {
        const int64_t slot = slots[i];
        cache_.key_valid[slot].fill_(false);
        cache_.key_valid[slot].narrow(0, end - longest, longest).copy_(fresh.key_valid[i]);
        for (size_t l = 0; l < cache_.keys.size(); ++l) {
          cache_.keys[l][slot].narrow(1, end - longest, longest).copy_(fresh.keys[l][i]);
          cache_.values[l][slot].narrow(1, end - longest, longest).copy_(fresh.values[l][i]);
        }
      }
    }
  }
  hidden_.index_copy_(0, torch::tensor(slots, torch::kLong).to(device),
                      hidden.select(1, longest - 1));
  for (int64_t i = 0; i < n; ++i) {
    Row& row = rows_[slots[i]];
    row = Row();
    row.used = true;
    row.sequence = sequences[i];
    row.prompt_key = PromptKey(sequences[i].prompt);
    row.result.sample_index = sequences[i].sample_index;
    ++active_;
  }
  return absl::OkStatus();
}

// The sampling rule, shared by every row: logits / temperature (1 when greedy), stop tokens
// masked out before min_new_tokens, then SampleRowsCpu / SampleRowsTensor per group of rows
// that filter alike; log-probs are under the unmasked distribution.
void ContinuousBatch::SampleTokens(const std::vector<int64_t>& order, const at::Tensor& logits,
                                   std::vector<int64_t>* tokens,
                                   std::vector<float>* logprobs) const {
  const int64_t n = static_cast<int64_t>(order.size());
  tokens->assign(n, -1);
  logprobs->assign(n, 0.f);
  std::map<std::tuple<bool, int64_t, double>, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i) {
    const SamplingOptions& o = rows_[order[i]].sequence.options;
    groups[{o.temperature == 0, o.top_k, o.top_p}].push_back(i);
  }
  const bool on_cpu = CanDecodeOnCpu(*model_);
  std::vector<double> uniforms;
  std::vector<int64_t> group_tokens;
  std::vector<float> group_logprobs;
  for (const auto& [key, members] : groups) {
    const int64_t m = static_cast<int64_t>(members.size());
    at::Tensor scaled =
        m == n ? logits
               : logits.index_select(0, torch::tensor(members, torch::kLong).to(logits.device()));
    std::vector<double> temperatures;
    std::vector<int64_t> suppressed;  // positions in the group
    uniforms.clear();
    for (int64_t j = 0; j < m; ++j) {
      const Row& row = rows_[order[members[j]]];
      const SamplingOptions& o = row.sequence.options;
      const int64_t step = static_cast<int64_t>(row.result.tokens.size());
      temperatures.push_back(o.temperature > 0 ? o.temperature : 1.0);
      if (step < o.min_new_tokens && !o.stop_token_ids.empty()) suppressed.push_back(j);
      uniforms.push_back(SamplingUniform(o.seed, row.prompt_key, row.sequence.sample_index, step));
    }
    if (std::all_of(temperatures.begin(), temperatures.end(),
                    [&](double t) { return t == temperatures.front(); })) {
      if (temperatures.front() != 1.0) scaled = scaled / temperatures.front();
    } else {
      scaled =
          scaled / torch::tensor(temperatures, torch::kDouble).to(scaled.options()).unsqueeze(1);
    }
    // Before min_new_tokens, a row samples from logits where its stop tokens cannot win.
    at::Tensor sampled_from = scaled;
    if (!suppressed.empty()) {
      sampled_from = scaled.clone();
      for (int64_t j : suppressed) {
        const std::vector<int64_t>& stops =
            rows_[order[members[j]]].sequence.options.stop_token_ids;
        sampled_from[j].index_fill_(0, torch::tensor(stops, torch::kLong).to(scaled.device()),
                                    -std::numeric_limits<float>::infinity());
      }
    }
    const SamplingOptions& first = rows_[order[members.front()]].sequence.options;
    if (on_cpu) {
      SampleRowsCpu(sampled_from, std::get<0>(key), first.top_k, first.top_p, uniforms,
                    &group_tokens, &group_logprobs);
    } else {
      SampleRowsTensor(sampled_from, first, uniforms, &group_tokens, &group_logprobs);
    }
    for (int64_t j = 0; j < m; ++j) {
      (*tokens)[members[j]] = group_tokens[j];
      (*logprobs)[members[j]] = group_logprobs[j];
    }
    for (int64_t j : suppressed) {
      // The token's log-prob under the full distribution (what the learner recomputes).
      if (group_tokens[j] < 0) continue;
      (*logprobs)[members[j]] = at::log_softmax(scaled[j], -1)[group_tokens[j]].item<float>();
    }
  }
}

absl::StatusOr<std::vector<FinishedSequence>> ContinuousBatch::Step() {
  std::vector<FinishedSequence> finished;
  if (active_ == 0) return finished;
  torch::NoGradGuard no_grad;
  const auto device = model_->embed_tokens().device();
  std::vector<int64_t> order;  // slots of the active rows, ascending
  for (int64_t s = 0; s < slots_; ++s) {
    if (rows_[s].used) order.push_back(s);
  }
  const int64_t n = static_cast<int64_t>(order.size());
  const at::Tensor states =
      order.back() == n - 1
          ? hidden_.narrow(0, 0, n)
          : hidden_.index_select(0, torch::tensor(order, torch::kLong).to(device));
  at::Tensor logits = model_->Logits(states).to(torch::kFloat);
  // A row whose logits are not finite (corrupt weights met by its tokens) fails alone: the other
  // rows of the batch never depend on it.
  if (!torch::isfinite(logits).all().item<bool>()) {
    const at::Tensor finite = torch::isfinite(logits).all(1).to(torch::kCPU);
    std::vector<int64_t> kept;
    std::vector<int64_t> kept_slots;
    for (int64_t i = 0; i < n; ++i) {
      Row& row = rows_[order[i]];
      if (finite[i].item<bool>()) {
        kept.push_back(i);
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
  std::vector<int64_t> tokens;
  std::vector<float> logprobs;
  SampleTokens(order, logits, &tokens, &logprobs);
  // Record the tokens; finished rows leave, the others are fed through one decoding step.
  std::vector<int64_t> next(static_cast<size_t>(slots_), 0);
  std::vector<int64_t> going;  // slots that decode on
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
                          o.stop_token_ids.end() ||
                      (row.sequence.stop_after &&
                       static_cast<int64_t>(row.result.tokens.size()) >= o.min_new_tokens &&
                       row.sequence.stop_after(row.result.tokens));
    if (stop || static_cast<int64_t>(row.result.tokens.size()) >= o.max_new_tokens) {
      row.result.finish_reason = stop ? FinishReason::kStop : FinishReason::kLength;
      finished.push_back({row.sequence.tag, std::move(row.result)});
      row = Row();
      --active_;
      continue;
    }
    next[order[i]] = tokens[i];
    going.push_back(order[i]);
  }
  if (active_ == 0) {
    Reset();
    return finished;
  }
  RETURN_IF_ERROR(Advance(next, going));
  return finished;
}

absl::Status ContinuousBatch::Advance(const std::vector<int64_t>& next,
                                      const std::vector<int64_t>& going) {
  const auto device = model_->embed_tokens().device();
  if (!use_kv_cache_) {
    // Recompute each sequence from its prompt and tokens (the reference the cache is tested
    // against).
    std::vector<std::vector<int64_t>> sequences;
    int64_t longest = 0;
    for (int64_t slot : going) {
      const Row& row = rows_[slot];
      std::vector<int64_t> all = row.sequence.prompt;
      all.insert(all.end(), row.result.tokens.begin(), row.result.tokens.end());
      longest = std::max<int64_t>(longest, all.size());
      sequences.push_back(std::move(all));
    }
    const auto [ids, mask] = LeftPadded(sequences, longest, device);
    hidden_.index_copy_(0, torch::tensor(going, torch::kLong).to(device),
                        model_->Forward(ids, mask).select(1, longest - 1));
    return absl::OkStatus();
  }
  if (cache_.length + 1 > cache_.capacity()) {
    return absl::InternalError("the continuous batch ran out of cache positions");
  }
  // Every row up to the last that goes on is fed (a free row in between takes token 0).
  const int64_t used_rows = going.back() + 1;
  KvCache view = View(used_rows);
  const at::Tensor fed =
      torch::tensor(std::vector<int64_t>(next.begin(), next.begin() + used_rows), torch::kLong)
          .to(device);
  at::Tensor hidden;
  if (CanDecodeOnCpu(*model_)) {
    hidden = DecodeStepCpu(*model_, fed, &view);
  } else {
    hidden = model_
                 ->Forward(fed.unsqueeze(-1),
                           torch::ones({used_rows, 1}, torch::dtype(torch::kLong).device(device)),
                           {}, &view)
                 .select(1, 0);
  }
  cache_.length = view.length;
  if (used_rows == slots_) {
    hidden_ = hidden;  // every row was fed: keep the step's output rather than copy it
  } else {
    hidden_.narrow(0, 0, used_rows).copy_(hidden);
  }
  return absl::OkStatus();
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
