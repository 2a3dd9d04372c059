#!/usr/bin/env bash
# Run on a GPU machine from the repository root, with Debian 12's Abseil carried in .devcarry/
# (include/, lib/; libstdc++ in .devcarry/stdcxx/ for machines whose libstdc++ is older).
# Builds bench/cuda_check against the PyTorch wheel's CUDA LibTorch and runs the checks.
# Prepare the carry on the Debian machine first (ignored by git through .git/info/exclude):
#   mkdir -p .devcarry/include .devcarry/lib .devcarry/stdcxx
#   cp -r /usr/include/absl .devcarry/include/
#   cp -P /usr/lib/x86_64-linux-gnu/libabsl_*.so* .devcarry/lib/
#   cp /usr/lib/x86_64-linux-gnu/libstdc++.so.6* .devcarry/stdcxx/
#   echo /.devcarry/ >> .git/info/exclude
# then call the device tool with carry [".devcarry"] and this script as the command.
set -uo pipefail
out=${OUT:-/tmp/cuda_check_out}
mkdir -p "$out"
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI)'
  ldd --version | head -1; g++ --version | head -1; cmake --version | head -1
} 2>&1 | tee "$out/environment.txt"
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
carry=$PWD/.devcarry
generator=""
command -v ninja >/dev/null && generator="-G Ninja"
cmake -S bench/cuda_check -B /tmp/cuda_check_build $generator -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" -DABSL_ROOT="$carry" >"$out/configure.log" 2>&1 || {
  tail -40 "$out/configure.log"; exit 1; }
cmake --build /tmp/cuda_check_build -j "$(nproc)" >"$out/build.log" 2>&1 || {
  grep -E "error|undefined" "$out/build.log" | head -40; exit 1; }
export LD_LIBRARY_PATH="$carry/lib:${LD_LIBRARY_PATH:-}"
if ! strings "$(g++ -print-file-name=libstdc++.so.6)" 2>/dev/null | grep -q GLIBCXX_3.4.30; then
  export LD_LIBRARY_PATH="$carry/stdcxx:$LD_LIBRARY_PATH"
fi
/tmp/cuda_check_build/plumb-cuda-check 2>&1 | tee "$out/cuda_check.jsonl"
