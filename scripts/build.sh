#!/usr/bin/env bash
# Configures and builds llmux into build/ (installs missing dependencies first).
#   SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer, no bench programs, into build-sanitize/.
#   BUILD_DIR, BUILD_TYPE: another build directory or CMake build type.
#   BUILD_TARGETS: only these targets (the demo builds llmux and the fake engine, not the tests and benches).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh "$@"
options=(-DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}")
if [[ "${SANITIZE:-0}" == 1 ]]; then
  build_dir="${BUILD_DIR:-build-sanitize}"
  options+=(-DLLMUX_SANITIZE=ON -DLLMUX_BENCH=OFF)
else
  build_dir="${BUILD_DIR:-build}"
fi
cmake -S . -B "$build_dir" "${options[@]}" >/dev/null
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j"$(nproc 2>/dev/null || sysctl -n hw.ncpu)" "${targets[@]}"
