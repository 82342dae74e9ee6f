#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs unit + integration tests (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
ctest --test-dir build --output-on-failure
