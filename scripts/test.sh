#!/usr/bin/env bash
# Installs what Plumb needs (scripts/setup.sh), checks formatting, builds everything and runs the
# whole CTest suite. Exits non-zero if any step fails. Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/check_format.sh

jobs=$(nproc)
cmake --preset release
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs" "$@"
