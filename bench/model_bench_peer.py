"""The Python peer of plumb-bench-model: the same Llama-family model written the usual way in
eager PyTorch (nn.Linear per projection, a KV cache grown with torch.cat, sampling with
torch.multinomial), timed on the same shapes. Prints JSON lines like the C++ benchmark.

usage: /usr/bin/python3 bench/model_bench_peer.py [--reps N] [--threads N]
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

    def forward(self, x, cos, sin, cache):
        b, t, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(b, t, -1, self.hd).transpose(1, 2)
        k = self.k(h).view(b, t, -1, self.hd).transpose(1, 2)
        v = self.v(h).view(b, t, -1, self.hd).transpose(1, 2)
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
        if t > 1:
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

    def forward(self, ids, start=0, caches=None):
        t = ids.shape[1]
        pos = torch.arange(start, start + t, dtype=torch.float32)
        f = torch.outer(pos, self.inv_freq)
        e = torch.cat([f, f], -1)
        dtype = self.embed.weight.dtype
        cos, sin = e.cos().to(dtype)[None, None], e.sin().to(dtype)[None, None]
        x = self.embed(ids)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, None if caches is None else caches[i])
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name, c in SIZES.items():
        for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
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

                emit(name, params, dtype_name, batch, "sample",
                     batch * NEW / median_seconds(args.reps, sample), "tokens/s")

                seqs = torch.tensor([[(b * 7 + t * 29) % c["vocab"] for t in range(SEQ)]
                                     for b in range(batch)])

                @torch.no_grad()
                def logprobs():
                    logits = model(seqs)[:, PROMPT - 1:-1].float()
                    return torch.log_softmax(logits, -1).gather(-1, seqs[:, PROMPT:, None])

                emit(name, params, dtype_name, batch, "logprobs",
                     batch * SEQ / median_seconds(args.reps, logprobs), "tokens/s")

                if dtype == torch.float32:
                    model.train()
                    adam = torch.optim.AdamW(model.parameters(), lr=1e-4)
                    ids = (torch.arange(batch * SEQ).view(batch, SEQ) * 13) % c["vocab"]

                    def train():
                        adam.zero_grad()
                        logits = model(ids)
                        loss = F.cross_entropy(logits[:, :-1].reshape(-1, c["vocab"]),
                                               ids[:, 1:].reshape(-1))
                        loss.backward()
                        adam.step()

                    emit(name, params, dtype_name, batch, "train",
                         median_seconds(args.reps, train) * 1e3, "ms/step")
                    model.eval()


if __name__ == "__main__":
    main()
