#!/usr/bin/env bash
# Builds the parser fuzz targets with clang (libFuzzer + ASan + UBSan) and runs each for a fixed
# time over its seed corpus (fuzz/corpus/<target>, read only; new inputs go to the build dir).
# Fails on any crash, sanitizer report, input slower than 5 s or allocation over 512 MB.
# Usage: fuzz/run.sh [BUILD_DIR [TARGET...]]; PLUMB_FUZZ_SECONDS sets the time per target (20).
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
build=${1:-$src/../build/fuzz}
shift || true
seconds=${PLUMB_FUZZ_SECONDS:-20}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(hf_config safetensors_index safetensors_header tokenizer_json config_map jsonl_line
           job_spec)
fi
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found; scripts/setup.sh installs clang" >&2
  exit 1
fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
CXX=clang++ cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE= "${launcher[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/%/_fuzz}"

# UBSan findings abort (halt_on_error); leaks are not parser bugs worth failing CI on here.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=0
failed=()
for target in "${targets[@]}"; do
  work="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  mkdir -p "$work" "$artifacts"
  echo "fuzz: $target for ${seconds}s"
  if ! "$build/${target}_fuzz" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
      -malloc_limit_mb=512 -max_len=16384 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$work" "$src/corpus/$target" >"$build/$target.log" 2>&1; then
    tail -n 60 "$build/$target.log" >&2
    failed+=("$target")
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/$target.log" | tr '\n' ' '
    echo
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs under $build/artifacts)" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s without a finding"
