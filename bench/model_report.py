"""Joins plumb-bench-model and model_bench_peer.py output (JSON lines on stdin) into the
Markdown table BENCHMARKS.md keeps: Plumb vs PyTorch eager, and each Plumb figure as a fraction
of the arithmetic limit (FLOPs of the work / the GEMM rate measured in the same run)."""
import json
import sys

lines = [json.loads(line) for line in sys.stdin if line.startswith("{")]
rows = [r for r in lines if "size" in r]
for note in sorted({r["bf16_gemm"] for r in lines if r.get("what") == "config"}):
    print(f"Plumb's CPU bf16 products: {note}\n")
by = {(r["impl"], r["size"], r["dtype"], r["batch"], r["what"]): r for r in rows}
SEQ = 128  # tokens per row in the logprobs and train benchmarks


def flops(r):
    """FLOP/s that a result implies (2 x params per token forward, 6 x for training)."""
    p = r["params"]
    if r["what"] in ("sample", "logprobs"):
        return r["value"] * 2 * p
    if r["what"].startswith("train"):  # real tokens/s; 6 x params per token (LoRA: nominal)
        return 6 * p * r["value"]
    return None


print("| model | dtype | batch | measure | Plumb | PyTorch eager | Plumb / PyTorch | Plumb, share of GEMM rate |")
print("|---|---|---|---|---|---|---|---|")
for (impl, size, dtype, batch, what), r in sorted(by.items(), key=lambda kv: (kv[0][1] != "3M", kv[0][2], kv[0][3], kv[0][4])):
    if impl != "plumb" or what == "gemm":
        continue
    peer = by.get(("pytorch", size, dtype, batch, what))
    gemm = by.get(("plumb", size, dtype, batch, "gemm"))
    unit = r["unit"]
    if unit == "ms/step":
        ratio = peer["value"] / r["value"] if peer else None  # lower is better
        shown = f"{r['value']:.1f} {unit}"
        peer_shown = f"{peer['value']:.1f} {unit}" if peer else "-"
    else:
        ratio = r["value"] / peer["value"] if peer else None
        shown = f"{r['value']:.0f} {unit}"
        peer_shown = f"{peer['value']:.0f} {unit}" if peer else "-"
    share = f"{flops(r) / gemm['value']:.1%}" if gemm else "-"
    ratio_shown = f"{ratio:.2f}x" if ratio else "-"
    print(f"| {size} | {dtype} | {batch} | {what} | {shown} | {peer_shown} | {ratio_shown} | {share} |")
