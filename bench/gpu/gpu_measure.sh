#!/bin/bash
# gpu_measure.sh: llmux in front of two llama-servers fully offloaded to a GPU (-ngl 99), maxResident 0.
#   1. "roomy" (memory.gpuReserve 512MiB): load a, then b: both stay; /status, /v1/models, `llmux fit`,
#      nvidia-smi's per-process memory after each; relay overhead (relay_ttft.py) on each; the learned footprints.
#   2. "tight": memory.gpuReserve set so that the GPU's total minus the reserve holds one model's estimated GPU
#      part but not both (computed from run 1's figures): a, then b (b must evict a), then a again.
# Every file lands in $RES; summary.py turns them into the figures. Each step has a timeout.
#   env: BIN (llmux), LLMUX_LIB (its shared libraries, if not installed), LLAMA_SERVER, MODELS (a.gguf, b.gguf),
#        RES, PORT (18484), RELAY_N (20)
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${BIN:?}" "${LLAMA_SERVER:?}" "${MODELS:?}" "${RES:?}"
PORT=${PORT:-18484}
RELAY_N=${RELAY_N:-20}
URL=http://127.0.0.1:$PORT
mkdir -p "$RES"
LLMUX=(env "LD_LIBRARY_PATH=${LLMUX_LIB:-}" "$BIN/llmux")  # env execs: $! is llmux's pid
log() { echo "== $(date -u +%T) $*"; }
LLMUX_PID=

start_llmux() {  # NAME GPU_RESERVE
  local name=$1
  export XDG_STATE_HOME=$RES/state-$name  # a ledger of its own: nothing learned before replaces the estimate
  mkdir -p "$XDG_STATE_HOME"
  local m cmds=""
  for m in a b; do
    cmds+="  $m:
    cmd: $LLAMA_SERVER --host 127.0.0.1 --port \${PORT} -m $MODELS/$m.gguf -c 4096 -np 1 -ngl 99
"
  done
  cat >"$RES/config-$name.yaml" <<EOF
listen: 127.0.0.1:$PORT
maxResident: 0
healthCheckTimeout: 180s
memory:
  sampleInterval: 200ms
  idleSampleInterval: 1s
  gpuReserve: $2
models:
$cmds
EOF
  "${LLMUX[@]}" serve --config "$RES/config-$name.yaml" >"$RES/llmux-$name.log" 2>&1 &
  LLMUX_PID=$!
  for _ in $(seq 100); do curl -sf -m 1 "$URL/health" >/dev/null && return 0; sleep 0.1; done
  log "llmux did not come up"; tail -20 "$RES/llmux-$name.log"; return 1
}

stop_llmux() {
  [ -n "$LLMUX_PID" ] || return 0
  kill -TERM "$LLMUX_PID" 2>/dev/null
  for _ in $(seq 300); do kill -0 "$LLMUX_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$LLMUX_PID" 2>/dev/null
  wait "$LLMUX_PID" 2>/dev/null
  LLMUX_PID=
}
trap stop_llmux EXIT

request() {  # MODEL: one short chat completion through llmux; prints "MODEL HTTP seconds"
  local code
  code=$(curl -s -m 240 -o "$RES/reply-$1.json" -w '%{http_code} %{time_total}' "$URL/v1/chat/completions" \
    -H 'Content-Type: application/json' \
    -d "{\"model\":\"$1\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
  log "request $1: HTTP $code"
  [ "${code%% *}" = 200 ] || head -c 400 "$RES/reply-$1.json"
}

snap() {  # TAG: /status, /v1/models and nvidia-smi's processes now
  curl -s -m 5 "$URL/status" >"$RES/status-$1.json"
  curl -s -m 5 "$URL/v1/models" >"$RES/models-$1.json"
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv >"$RES/smi-$1.csv" 2>&1
  nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader >>"$RES/smi-$1.csv" 2>&1
  python3 "$HERE/summary.py" brief "$RES/status-$1.json" "$RES/smi-$1.csv" | sed "s/^/[$1] /"
}

log "run 1: roomy (gpuReserve 512MiB)"
start_llmux roomy 512MiB || exit 1
snap idle
for m in a b; do
  timeout 20 "${LLMUX[@]}" fit "$m" --url "$URL" --json >"$RES/fit-$m.json" 2>&1
  timeout 20 "${LLMUX[@]}" fit "$m" --url "$URL" | tee "$RES/fit-$m.txt"
done
request a; sleep 2; snap a
request b; sleep 2; snap ab
for m in a b; do
  port=$(python3 -c "import json,sys; print([w['port'] for w in json.load(open(sys.argv[1]))['workers'] if w['model']==sys.argv[2]][0])" "$RES/status-ab.json" "$m") || continue
  log "relay $m: engine port $port vs llmux $PORT, $RELAY_N each"
  timeout 150 python3 "$HERE/relay_ttft.py" "$port" "$PORT" "$m" "$RELAY_N" 128 | tee "$RES/relay-$m.txt"
done
sleep 2; snap relayed
for m in a b; do timeout 20 "${LLMUX[@]}" fit "$m" --url "$URL" | tee "$RES/fit-$m-learned.txt"; done
find "$XDG_STATE_HOME" -type f | while read -r f; do echo "## $f"; head -c 4000 "$f"; echo; done >"$RES/ledger.txt"
stop_llmux
sleep 1; nvidia-smi --query-compute-apps=pid,used_memory --format=csv >"$RES/smi-after-stop.csv" 2>&1
log "after stop: $(grep -vc pid "$RES/smi-after-stop.csv") GPU processes left"

reserve=$(python3 "$HERE/summary.py" reserve "$RES/models-idle.json" "$RES/status-idle.json") || { log "no GPU figures: run 2 skipped"; exit 0; }
log "run 2: tight (gpuReserve ${reserve})"
start_llmux tight "$reserve" || exit 1
snap tight-idle
request a; sleep 2; snap tight-a
request b; sleep 2; snap tight-b
request a; sleep 2; snap tight-a2
stop_llmux
log "done"
