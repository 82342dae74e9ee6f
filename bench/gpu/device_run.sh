#!/bin/bash
# device_run.sh [SECONDS]: one call on a GPU machine, in the root of a tree that carries
#   .gpu/bin (llmux, unit_tests: strip --strip-debug copies), .gpu/lib (their Boost/yaml-cpp/spdlog/fmt/OpenSSL),
#   .gpu/scripts (this folder), .gpusrc/llama (llama.cpp's source, without .git, docs, tests, examples).
# Builds llama-server with CUDA into /tmp/llmux-llama-build unless a warm machine already has it, writes the two models unless
# they are there, runs the unit tests that read NVML, then gpu_measure.sh and gpu_variants.sh if enough of SECONDS (560) is left.
# Everything it reports goes to $OUT: info.txt, build.log, gen.log, unit.log, measure.log, summary.txt, results.tgz.
set -u -o pipefail
T0=$(date +%s)
BUDGET=${1:-560}
left() { echo $((BUDGET - ($(date +%s) - T0))); }
ROOT=$(pwd)
G=$ROOT/.gpu
SRC=$ROOT/.gpusrc/llama
B=${LLAMA_BUILD:-/tmp/llmux-llama-build}  # outside the tree: a warm machine keeps it
MODELS=/tmp/llmux-gpu-models
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" "$MODELS"
export PATH=$PATH:/usr/local/cuda/bin

{
  date -u; uname -a; nproc; free -g; df -h /tmp | tail -1
  nvidia-smi; nvcc --version | tail -2; g++ --version | head -1; cmake --version | head -1
  LD_LIBRARY_PATH=$G/lib "$G/bin/llmux" --version; LD_LIBRARY_PATH=$G/lib ldd "$G/bin/llmux" | grep -i "not found"
  ls -la "$B/bin/llama-server" 2>&1; ls -la "$MODELS"
} >"$OUT/info.txt" 2>&1

if [ ! -f "$MODELS/b.gguf" ]; then  # ~2 GiB and ~3.9 GiB of random F16 (TinyLlama's shape and a wider one)
  V=$SRC/models/ggml-vocab-llama-spm.gguf
  (python3 "$G/scripts/make_gguf.py" "$MODELS/a.gguf" "$V" 2048 22 5632 32 4 &&
    python3 "$G/scripts/make_gguf.py" "$MODELS/b.gguf" "$V" 2560 28 6912 20 4) >"$OUT/gen.log" 2>&1 &
  GEN=$!
fi

if [ ! -x "$B/bin/llama-server" ]; then
  if [ ! -f "$B/build.ninja" ]; then
    cmake -S "$SRC" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_CCACHE=OFF \
      -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DGGML_CUDA_NCCL=OFF >>"$OUT/build.log" 2>&1
  fi
  echo "== build with $(left) s left" >>"$OUT/build.log"
  timeout $(($(left) - 30)) ninja -C "$B" -j16 llama-server >>"$OUT/build.log" 2>&1
  echo "== ninja rc=$? after $(($(date +%s) - T0)) s" >>"$OUT/build.log"
fi
[ -n "${GEN:-}" ] && wait "$GEN"
ls -la "$MODELS" >>"$OUT/gen.log" 2>&1

LD_LIBRARY_PATH=$G/lib timeout 60 "$G/bin/unit_tests" --gtest_filter='GpuProbe*:FitsBeside*:FootprintFit*' \
  >"$OUT/unit.log" 2>&1
echo "unit_tests rc=$?" >>"$OUT/unit.log"

if [ -x "$B/bin/llama-server" ] && [ "$(left)" -gt 200 ]; then
  RES=/tmp/res-$T0
  LLMUX_LIB=$G/lib BIN=$G/bin LLAMA_SERVER=$B/bin/llama-server MODELS=$MODELS RES=$RES \
    timeout $(($(left) - 15)) bash "$G/scripts/gpu_measure.sh" >"$OUT/measure.log" 2>&1
  echo "== gpu_measure rc=$? after $(($(date +%s) - T0)) s" >>"$OUT/measure.log"
  if [ "$(left)" -gt 90 ]; then
    LLMUX_LIB=$G/lib BIN=$G/bin LLAMA_SERVER=$B/bin/llama-server MODELS=$MODELS RES=$RES \
      timeout $(($(left) - 15)) bash "$G/scripts/gpu_variants.sh" >>"$OUT/measure.log" 2>&1
  fi
  python3 "$G/scripts/summary.py" final "$RES" >"$OUT/summary.txt" 2>&1
  grep -A1 "^== a-\|^== b-" "$OUT/measure.log" >>"$OUT/summary.txt"
  tar -czf "$OUT/results.tgz" --exclude='*.gguf' -C /tmp "res-$T0"
else
  echo "measure skipped: llama-server $(ls "$B/bin/llama-server" 2>&1), $(left) s left" >"$OUT/measure.log"
fi
echo "device_run done after $(($(date +%s) - T0)) s" >>"$OUT/measure.log"
