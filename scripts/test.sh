#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs unit + integration tests (ctest).
#   SANITIZE=1: the same tests in a sanitizer build (build-sanitize/, see scripts/build.sh). Every process the tests
#   start (llmux, the fake engine) writes its AddressSanitizer / UBSan / LeakSanitizer report to
#   build-sanitize/sanitizer-logs/; any report fails the run, even when the test that started the process passed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
export PATH="$PWD/.tools/bin:$PATH"  # promtool (install-deps.sh --test)
scripts/build.sh

# Every skipped test, with its reason, on a line of its own (ctest hides a passing binary's output).
print_skipped() {
  local log="$1/Testing/Temporary/LastTest.log"
  [[ -f "$log" ]] || return 0
  awk '/: Skipped$/ { getline reason; next_reason = reason; next }
       /^\[  SKIPPED \] [^ ]+ \(/ { print "skipped: " $4 ": " next_reason }' "$log"
}

if [[ "${SANITIZE:-0}" != 1 ]]; then
  rc=0
  ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure || rc=$?
  print_skipped "${BUILD_DIR:-build}"
  exit $rc
fi
build_dir="${BUILD_DIR:-build-sanitize}"
logs="$PWD/$build_dir/sanitizer-logs"
rm -rf "$logs" && mkdir -p "$logs"
export ASAN_OPTIONS="log_path=$logs/asan:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
rc=0
ctest --test-dir "$build_dir" --output-on-failure || rc=$?
print_skipped "$build_dir"
if compgen -G "$logs/*" >/dev/null; then
  echo "sanitizer reports:" >&2
  for f in "$logs"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  rc=1
fi
exit $rc
