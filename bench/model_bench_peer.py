"""The Python peer of plumb-bench-model: the same Llama-family model written the usual way in
eager PyTorch (nn.Linear per projection, a KV cache grown with torch.cat, sampling with
torch.multinomial), timed on the same shapes. Prints JSON lines like the C++ benchmark.

Training is the usual Hugging Face-style SFT step: logits at every position, cross-entropy with
prompt and padding labels ignored, clip_grad_norm_, AdamW; bf16 means float32 weights under
torch.autocast("cpu", torch.bfloat16); packing gives each example its own block of a
block-diagonal causal mask with positions restarting per example; LoRA adds rank-8 adapters
(alpha 16) to q and v as PEFT does (x A^T B^T, base frozen).

usage: /usr/bin/python3 bench/model_bench_peer.py [--reps N] [--threads N] [--size 3M|25M]
                                                 [--what ...]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = {
    "3M": dict(vocab=2048, hidden=256, inter=704, layers=3, heads=4, kv=4),
    "25M": dict(vocab=8192, hidden=512, inter=1408, layers=6, heads=8, kv=4),
}
PROMPT, NEW, SEQ = 16, 64, 128


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        return self.weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        hd = c["hidden"] // c["heads"]
        self.hd = hd
        self.q = nn.Linear(c["hidden"], c["heads"] * hd, bias=False)
        self.k = nn.Linear(c["hidden"], c["kv"] * hd, bias=False)
        self.v = nn.Linear(c["hidden"], c["kv"] * hd, bias=False)
        self.o = nn.Linear(c["heads"] * hd, c["hidden"], bias=False)
        self.gate = nn.Linear(c["hidden"], c["inter"], bias=False)
        self.up = nn.Linear(c["hidden"], c["inter"], bias=False)
        self.down = nn.Linear(c["inter"], c["hidden"], bias=False)
        self.n1 = RMSNorm(c["hidden"])
        self.n2 = RMSNorm(c["hidden"])
        self.lora = None

    def add_lora(self, rank=8, alpha=16.0):
        hd = self.hd
        self.lora = nn.ModuleDict({
            name: nn.ModuleDict({"a": nn.Linear(self.c["hidden"], rank, bias=False),
                                 "b": nn.Linear(rank, out, bias=False)})
            for name, out in (("q", self.c["heads"] * hd), ("v", self.c["kv"] * hd))})
        for pair in self.lora.values():
            nn.init.normal_(pair["a"].weight, std=0.02)
            nn.init.zeros_(pair["b"].weight)
        self.lora_scale = alpha / rank

    def project(self, name, h):
        out = getattr(self, name)(h)
        if self.lora is not None and name in self.lora:
            out = out + self.lora[name]["b"](self.lora[name]["a"](h)) * self.lora_scale
        return out

    def forward(self, x, cos, sin, cache, allowed=None):
        b, t, _ = x.shape
        h = self.n1(x)
        q = self.project("q", h).view(b, t, -1, self.hd).transpose(1, 2)
        k = self.k(h).view(b, t, -1, self.hd).transpose(1, 2)
        v = self.project("v", h).view(b, t, -1, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        rep = self.c["heads"] // self.c["kv"]
        k = k.repeat_interleave(rep, 1)
        v = v.repeat_interleave(rep, 1)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        if allowed is not None:
            s = s.masked_fill(~allowed, float("-inf"))
        elif t > 1:
            total = k.shape[2]
            mask = torch.ones(t, total, dtype=torch.bool).tril(total - t)
            s = s.masked_fill(~mask, float("-inf"))
        p = torch.softmax(s, -1, dtype=torch.float32).to(q.dtype)
        x = x + self.o((p @ v).transpose(1, 2).reshape(b, t, -1))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab"], c["hidden"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["hidden"])
        self.head = nn.Linear(c["hidden"], c["vocab"], bias=False)
        hd = c["hidden"] // c["heads"]
        self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd)))

    def forward(self, ids, start=0, caches=None, positions=None, allowed=None):
        t = ids.shape[1]
        if positions is None:
            f = torch.outer(torch.arange(start, start + t, dtype=torch.float32), self.inv_freq)
            f = f[None]
        else:  # [B, T] per-row positions (packed rows)
            f = positions.float()[..., None] * self.inv_freq
        e = torch.cat([f, f], -1)
        dtype = self.embed.weight.dtype
        cos, sin = e.cos().to(dtype)[:, None], e.sin().to(dtype)[:, None]
        x = self.embed(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i], allowed)
        return self.head(self.norm(x))


def median_seconds(reps, fn):
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def emit(size, params, dtype, batch, what, value, unit):
    print(json.dumps(dict(impl="pytorch", size=size, params=params, dtype=dtype, batch=batch,
                          what=what, value=value, unit=unit)), flush=True)


def train_examples(vocab):
    """The SFT examples of plumb-bench-model's training step (same ids)."""
    items = []
    for i in range(24):
        prompt = [(i * 131 + t * 17) % vocab for t in range(8 + (i * 5) % 9)]
        response = [(i * 7 + t * 29 + 3) % vocab for t in range(24 + (i * 37) % 97)]
        items.append((prompt, response))
    return items


def padded_rows(items):
    """Right-padded rows: ids, labels (-100 on prompt and padding), positions, allowed mask."""
    longest = max(len(p) + len(r) for p, r in items)
    ids = torch.zeros(len(items), longest, dtype=torch.long)
    labels = torch.full((len(items), longest), -100, dtype=torch.long)
    valid = torch.zeros(len(items), longest, dtype=torch.bool)
    for b, (p, r) in enumerate(items):
        seq = p + r
        ids[b, :len(seq)] = torch.tensor(seq)
        labels[b, len(p):len(seq)] = torch.tensor(r)
        valid[b, :len(seq)] = True
    causal = torch.ones(longest, longest, dtype=torch.bool).tril()
    allowed = (causal[None] & valid[:, None, :])[:, None]
    positions = (valid.long().cumsum(1) - 1).clamp(min=0)
    return ids, labels, positions, allowed


def packed_rows(items, length=128):
    """Greedy first-fit in input order into rows of `length` (algorithms::PackSequences)."""
    rows = []
    for p, r in items:
        for row in rows:
            if sum(len(a) + len(b) for a, b in row) + len(p) + len(r) <= length:
                row.append((p, r))
                break
        else:
            rows.append([(p, r)])
    ids = torch.zeros(len(rows), length, dtype=torch.long)
    labels = torch.full((len(rows), length), -100, dtype=torch.long)
    positions = torch.zeros(len(rows), length, dtype=torch.long)
    segment = torch.zeros(len(rows), length, dtype=torch.long)
    for b, row in enumerate(rows):
        at = 0
        for s, (p, r) in enumerate(row, 1):
            n = len(p) + len(r)
            ids[b, at:at + n] = torch.tensor(p + r)
            labels[b, at + len(p):at + n] = torch.tensor(r)
            positions[b, at:at + n] = torch.arange(n)
            segment[b, at:at + n] = s
            at += n
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    same = (segment[:, :, None] == segment[:, None, :]) & (segment[:, None, :] > 0)
    return ids, labels, positions, (causal[None] & same)[:, None]


def train_tokens_per_second(c, variant, bf16, reps):
    torch.manual_seed(0)
    model = Model(c)
    if variant == "train_lora":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in model.layers:
            layer.add_lora()
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    adam = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.0)
    items = train_examples(c["vocab"])
    tokens = sum(len(p) + len(r) for p, r in items)
    rows = packed_rows(items) if variant == "train_packed" else padded_rows(items)
    ids, labels, positions, allowed = rows

    def step():
        adam.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(ids, positions=positions, allowed=allowed)
            loss = F.cross_entropy(logits[:, :-1].reshape(-1, c["vocab"]).float(),
                                   labels[:, 1:].reshape(-1), ignore_index=-100)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        adam.step()

    return tokens / median_seconds(reps, step)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", default="", help="only this model size")
    parser.add_argument("--dtype", default="", help="only fp32 or bf16")
    parser.add_argument("--what", default="", help="only this measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    wanted = lambda what: not args.what or args.what == what
    for name, c in SIZES.items():
        if args.size and args.size != name:
            continue
        for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            if args.dtype and args.dtype != dtype_name:
                continue
            torch.manual_seed(0)
            model = Model(c).to(dtype).eval()
            params = sum(p.numel() for p in model.parameters())
            for batch in (8, 32):
                prompts = torch.tensor([[(b * 131 + t * 17) % c["vocab"] for t in range(PROMPT)]
                                        for b in range(batch)])

                @torch.no_grad()
                def sample():
                    caches = [dict() for _ in model.layers]
                    logits = model(prompts, 0, caches)[:, -1]
                    tokens = []
                    for step in range(NEW):
                        probs = torch.softmax(logits.float(), -1)
                        token = torch.multinomial(probs, 1)
                        torch.log_softmax(logits.float(), -1).gather(-1, token)
                        tokens.append(token)
                        logits = model(token, PROMPT + step, caches)[:, -1]
                    return torch.cat(tokens, 1)

                if wanted("sample"):
                    emit(name, params, dtype_name, batch, "sample",
                         batch * NEW / median_seconds(args.reps, sample), "tokens/s")

                seqs = torch.tensor([[(b * 7 + t * 29) % c["vocab"] for t in range(SEQ)]
                                     for b in range(batch)])

                @torch.no_grad()
                def logprobs():
                    logits = model(seqs)[:, PROMPT - 1:-1].float()
                    return torch.log_softmax(logits, -1).gather(-1, seqs[:, PROMPT:, None])

                if wanted("logprobs"):
                    emit(name, params, dtype_name, batch, "logprobs",
                         batch * SEQ / median_seconds(args.reps, logprobs), "tokens/s")
            for variant in ("train", "train_packed", "train_lora"):
                if wanted(variant):
                    emit(name, params, dtype_name, 24, variant,
                         train_tokens_per_second(c, variant, dtype == torch.bfloat16, args.reps),
                         "tokens/s")


if __name__ == "__main__":
    main()
