#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs unit + integration tests (ctest).
#   SANITIZE=1: the same tests in a sanitizer build (build-sanitize/, see scripts/build.sh). Every process the tests
#   start (llmux, the fake engine) writes its AddressSanitizer / UBSan / LeakSanitizer report to
#   build-sanitize/sanitizer-logs/; any report fails the run, even when the test that started the process passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
if [[ "${SANITIZE:-0}" != 1 ]]; then
  ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure
  exit 0
fi
build_dir="${BUILD_DIR:-build-sanitize}"
logs="$PWD/$build_dir/sanitizer-logs"
rm -rf "$logs" && mkdir -p "$logs"
export ASAN_OPTIONS="log_path=$logs/asan:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
rc=0
ctest --test-dir "$build_dir" --output-on-failure || rc=$?
if compgen -G "$logs/*" >/dev/null; then
  echo "sanitizer reports:" >&2
  for f in "$logs"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  rc=1
fi
exit $rc
