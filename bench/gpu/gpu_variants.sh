#!/bin/bash
# gpu_variants.sh: where the GPU estimate's gap comes from. One llmux (maxResident 0, everything co-resident)
# serves model a with -c 4096 / 32768, -ngl 0 / 11 / 99 and model b with -np 4: after one request each, its GPU
# memory by NVML against the estimate's GPU part. A constant gap across shapes is per-process runtime (the CUDA
# context), a growing one a part the estimate sizes wrong.
#   env: BIN, LLMUX_LIB, LLAMA_SERVER, MODELS, RES, PORT (18486)
set -u -o pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
: "${BIN:?}" "${LLAMA_SERVER:?}" "${MODELS:?}" "${RES:?}"
PORT=${PORT:-18486}
URL=http://127.0.0.1:$PORT
mkdir -p "$RES"
export XDG_STATE_HOME=$RES/state-variants
mkdir -p "$XDG_STATE_HOME"
VARIANTS=("a-c4k:a.gguf -c 4096 -np 1 -ngl 99" "a-c32k:a.gguf -c 32768 -np 1 -ngl 99"
  "a-ngl11:a.gguf -c 4096 -np 1 -ngl 11" "a-ngl0:a.gguf -c 4096 -np 1 -ngl 0" "b-np4:b.gguf -c 16384 -np 4 -ngl 99")
{
  echo "listen: 127.0.0.1:$PORT"
  echo "maxResident: 0"
  echo "healthCheckTimeout: 180s"
  echo "memory:"
  echo "  sampleInterval: 200ms"
  echo "  idleSampleInterval: 1s"
  echo "models:"
  for v in "${VARIANTS[@]}"; do
    echo "  ${v%%:*}:"
    echo "    cmd: $LLAMA_SERVER --host 127.0.0.1 --port \${PORT} -m $MODELS/${v#*:}"
  done
} >"$RES/config-variants.yaml"
env "LD_LIBRARY_PATH=${LLMUX_LIB:-}" "$BIN/llmux" serve --config "$RES/config-variants.yaml" >"$RES/llmux-variants.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID; wait $PID' EXIT
for _ in $(seq 100); do curl -sf -m 1 "$URL/health" >/dev/null && break; sleep 0.1; done
for v in "${VARIANTS[@]}"; do
  m=${v%%:*}
  code=$(curl -s -m 240 -o /dev/null -w '%{http_code}' "$URL/v1/chat/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$m\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
  sleep 2
  curl -s -m 5 "$URL/status" >"$RES/status-var-$m.json"
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv >"$RES/smi-var-$m.csv" 2>&1
  echo "== $m (HTTP $code)"
  python3 "$HERE/summary.py" brief "$RES/status-var-$m.json" "$RES/smi-var-$m.csv" | grep "^$m "
done
