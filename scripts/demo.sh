#!/usr/bin/env bash
# The demo: builds llmux, starts it with configs/demo.yaml (two simulated models), and walks through what it does:
# list models, first request loads a model, SSE streaming, a swap to another model, /status, idle-TTL unload.
#   scripts/demo.sh          narrated run, then stops everything
#   scripts/demo.sh --stay   narrated run, then keeps llmux running for your own requests (Ctrl-C stops it)
set -euo pipefail
cd "$(dirname "$0")/.."
stay=0
[[ "${1:-}" == "--stay" ]] && stay=1
echo "demo: building llmux and the fake engine into build/ (the first build takes a few minutes on 2 cores)"
BUILD_TARGETS="llmux fake_engine" scripts/build.sh
command -v curl >/dev/null || { echo "demo needs curl (apt-get install curl)" >&2; exit 1; }

export LLMUX_FAKE_ENGINE="$PWD/build/tests/fake_engine"
log=$(mktemp -t llmux-demo.XXXXXX.log)
build/proxy/llmux serve --config configs/demo.yaml --listen "127.0.0.1:${LLMUX_DEMO_PORT:-0}" 2>"$log" &
llmux_pid=$!
trap 'kill -TERM $llmux_pid 2>/dev/null; wait $llmux_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.05; done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1)
[[ -n "$url" ]] || { cat "$log"; exit 1; }

# HH:MM:SS.mmm, on GNU and BSD/macOS alike (date +%N is GNU-only).
now_ms() { perl -MTime::HiRes=time -e 'my $t = time; my @l = localtime $t; printf "%02d:%02d:%02d.%03d", @l[2, 1, 0], ($t - int $t) * 1000'; }
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show_log() { sed -n "$((${1}+1)),\$p" "$log" | sed 's/^/   log| /'; }
mark() { wc -l <"$log"; }
chat() {  # model, stream, prompt
  curl -sN "$url/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$1\",\"stream\":$2,\"max_tokens\":12,\"messages\":[{\"role\":\"user\",\"content\":\"$3\"}]}"
}

bold "llmux is listening on $url (config configs/demo.yaml, log $log)"
bold "GET /v1/models: configured models and aliases, nothing loaded yet"
curl -s "$url/v1/models"; echo

bold "POST /v1/chat/completions model=fast (alias of small): the first request loads the engine"
m=$(mark); time chat fast false "hello" ; echo; show_log "$m"

bold "Same model, streaming: SSE events arrive as the engine sends them (one token every 40 ms)"
chat small true "stream please" | while IFS= read -r line; do
  if [[ -n "$line" ]]; then printf '   %s %s\n' "$(now_ms)" "${line:0:110}"; fi
done

bold "model=smart (alias of large): llmux swaps engines (stops small, starts large)"
m=$(mark); time chat smart false "swap" ; echo; show_log "$m"

bold "llmux status (the same as GET /status, as a table; --json for the raw JSON)"
build/proxy/llmux status --url "$url"

bold "GET /metrics (Prometheus): requests, swaps, loads so far"
curl -s "$url/metrics" | grep -E '^llmux_(requests_total|swaps_total|loads_total)' | sed 's/^/   /'

bold "llmux logs --model small: llmux's and the engine's lines about one model; here its load and PERF lines"
build/proxy/llmux logs --url "$url" --model small | grep -E 'ready in|PERF' | sed 's/^/   /'

bold "Waiting for the idle TTL (6 s) to unload the model..."
m=$(mark); sleep 7; show_log "$m"
curl -s "$url/status" | grep -A1 '"worker"' || true

if [[ $stay -eq 1 ]]; then
  bold "llmux keeps running at $url — try: curl -N $url/v1/chat/completions -d '{\"model\":\"small\",\"stream\":true,\"messages\":[]}'"
  echo "   dashboard: $url/ui   live terminal view: build/proxy/llmux status --watch --url $url"
  echo "   (Ctrl-C to stop; log: $log)"
  wait $llmux_pid
fi
bold "Stopping llmux (SIGTERM): in-flight requests finish, the engine is stopped"
kill -TERM $llmux_pid; wait $llmux_pid || true
trap - EXIT
tail -n 3 "$log" | sed 's/^/   log| /'
