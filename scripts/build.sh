#!/usr/bin/env bash
# Configures and builds llmux into build/ (installs missing dependencies first).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh "$@"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || sysctl -n hw.ncpu)"
