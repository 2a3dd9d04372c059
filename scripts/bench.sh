#!/usr/bin/env bash
# Builds the release preset and runs the benchmarks, printing medians of 5 repetitions and the
# ratios that BENCHMARKS.md records. Usage: scripts/bench.sh [extra --benchmark_* flags]
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target plumb-bench-tensor-codec >/dev/null
out=$(mktemp)
./build/bin/plumb-bench-tensor-codec --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_format=json "$@" >"$out"
python3 - "$out" <<'PY'
import json, sys
runs = json.load(open(sys.argv[1]))
ctx = runs["context"]
medians = {b["run_name"]: b for b in runs["benchmarks"] if b.get("aggregate_name") == "median"}
print(f"machine: {ctx['num_cpus']} x {ctx['mhz_per_cpu']} MHz, {ctx.get('date', '')}")
raw = medians.get("BM_RawTcpLoopback/real_time")
print("| benchmark | median time (ms) | throughput (GB/s) | vs raw loopback TCP |")
print("|---|---|---|---|")
for name, b in medians.items():
    gbps = b["bytes_per_second"] / 1e9
    ratio = f"{b['bytes_per_second'] / raw['bytes_per_second']:.0%}" if raw else "-"
    print(f"| {name} | {b['real_time']:.1f} | {gbps:.2f} | {ratio} |")
PY
rm -f "$out"
