#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (AddressSanitizer + UBSan) into build-fuzz/ and runs each
# for a bounded time from its seed corpus (tests/fuzz/corpus/TARGET; config_fuzz also reads configs/). Inputs that
# reach new code are kept in build-fuzz/corpus/TARGET (add good ones to the seeds by hand); a failing input is
# saved as build-fuzz/crashes/TARGET-crash-* and ends the run (reproduce: build-fuzz/tests/fuzz/TARGET FILE).
#   scripts/fuzz.sh                      every target, 300 s each
#   scripts/fuzz.sh 15                   every target, 15 s each (CI)
#   scripts/fuzz.sh 3600 request_fuzz    one target for an hour
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
shift || true
scripts/install-deps.sh --fuzz
CC="${CC:-clang}" CXX="${CXX:-clang++}" cmake -S . -B build-fuzz -DLLMUX_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc 2>/dev/null || sysctl -n hw.ncpu)" --target fuzz_targets

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(request_fuzz request_beast_diff_fuzz response_fuzz json_scan_fuzz usage_scan_fuzz argv_fuzz config_fuzz multipart_fuzz
           gguf_fuzz)
fi
mkdir -p build-fuzz/crashes build-fuzz/logs
for t in "${targets[@]}"; do
  case "$t" in
    request_fuzz|request_beast_diff_fuzz|response_fuzz) dict=tests/fuzz/http.dict ;;
    json_scan_fuzz|usage_scan_fuzz) dict=tests/fuzz/json.dict ;;
    argv_fuzz) dict=tests/fuzz/argv.dict ;;
    *) dict="" ;;
  esac
  seeds=("tests/fuzz/corpus/$t")
  [[ "$t" == config_fuzz ]] && seeds+=(configs)  # the repository's own configs, as they are today
  mkdir -p "build-fuzz/corpus/$t"
  log="build-fuzz/logs/$t.log"
  start=$SECONDS
  if ! "build-fuzz/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        ${dict:+-dict="$dict"} -artifact_prefix="build-fuzz/crashes/$t-" \
        "build-fuzz/corpus/$t" "${seeds[@]}" >"$log" 2>&1; then
    echo "fuzz: $t FAILED after $((SECONDS - start)) s; its log ($log) ends:" >&2
    tail -n 60 "$log" >&2
    exit 1
  fi
  summary=$(grep -Eo '^#[0-9]+[[:space:]]+DONE[[:space:]]+cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 | tr -s '\t' ' ')
  echo "fuzz: $t ok, $((SECONDS - start)) s: ${summary:-see $log}"
done
