#!/usr/bin/env bash
# Builds the release preset and runs the benchmarks, printing medians and the ratios that
# BENCHMARKS.md records, each against a baseline measured in the same run.
# Usage: scripts/bench.sh [codec|model|train|sync|ppo|coordinator|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target plumb-bench-tensor-codec plumb-bench-model \
  plumb-bench-weight-sync plumb-bench-ppo-step plumb-model plumb-generator plumb-learner \
  plumb-reference plumb-scorer >/dev/null

if [ "$what" = codec ] || [ "$what" = all ]; then
  out=$(mktemp)
  ./build/bin/plumb-bench-tensor-codec --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true --benchmark_format=json >"$out"
  python3 - "$out" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
ctx = runs["context"]
medians = {b["run_name"]: b for b in runs["benchmarks"] if b.get("aggregate_name") == "median"}
print(f"machine: {ctx['num_cpus']} x {ctx['mhz_per_cpu']} MHz")
raw = medians.get("BM_RawTcpLoopback/real_time")
print("| benchmark | median time (ms) | throughput (GB/s) | vs raw loopback TCP |")
print("|---|---|---|---|")
for name, b in medians.items():
    gbps = b["bytes_per_second"] / 1e9
    ratio = f"{b['bytes_per_second'] / raw['bytes_per_second']:.0%}" if raw else "-"
    print(f"| {name} | {b['real_time']:.1f} | {gbps:.2f} | {ratio} |")
PY
  rm -f "$out"
fi

if [ "$what" = model ] || [ "$what" = all ]; then
  # Same shapes, same thread count (2), one after the other in the same run.
  out=$(mktemp)
  # Sampling and log-probs here; the training step is `train` below.
  for m in sample logprobs gemm; do
    ./build/bin/plumb-bench-model --reps 5 --threads 2 --what "$m" >>"$out"
  done
  for m in sample logprobs; do
    /usr/bin/python3 bench/model_bench_peer.py --reps 5 --threads 2 --what "$m" >>"$out"
  done
  python3 bench/model_report.py <"$out"
  rm -f "$out"
fi

if [ "$what" = train ] || [ "$what" = all ]; then
  # One SFT optimizer step (padded, packed, LoRA; fp32 and bf16 autocast) on the 3M model, Plumb
  # and the PyTorch peer alternating per measurement so that drift hits both sides alike.
  # PyTorch's bf16 autocast is slow on CPUs without AVX-512 (scalar bf16 GEMM): 3 repetitions.
  out=$(mktemp)
  for variant in train train_packed train_lora; do
    for dtype in fp32 bf16; do
      reps=5
      [ "$dtype" = bf16 ] && reps=3
      ./build/bin/plumb-bench-model --reps "$reps" --threads 2 --size 3M --dtype "$dtype" \
        --what "$variant" >>"$out"
      /usr/bin/python3 bench/model_bench_peer.py --reps "$reps" --threads 2 --size 3M \
        --dtype "$dtype" --what "$variant" >>"$out"
    done
  done
  python3 bench/model_report.py <"$out"
  rm -f "$out"
fi

if [ "$what" = sync ] || [ "$what" = all ]; then
  # Learner -> 2 generators (25M parameters) against raw loopback TCP, same run.
  PLUMB_BIN_DIR=build/bin ./build/bin/plumb-bench-weight-sync --reps 5 --size 25m 2>/dev/null
fi

if [ "$what" = coordinator ] || [ "$what" = all ]; then
  # The same PPO job in synchronous and asynchronous rounds, generation side on CPU 0 and the
  # learner on CPU 1; and the coordinator's overhead per round against calling the rounds directly.
  PLUMB_BIN_DIR=build/bin ./build/bin/plumb-bench-coordinator --reps 3 --rounds 8
fi

if [ "$what" = ppo ] || [ "$what" = all ]; then
  # One PPO step over the 4 services on loopback against the same step in one process, 1 LibTorch
  # thread per process, steps alternating between the sides.
  # Progress and errors on stderr; the table on stdout.
  PLUMB_BIN_DIR=build/bin ./build/bin/plumb-bench-ppo-step --reps 5 --threads 1
fi
