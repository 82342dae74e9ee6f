// Engine-aware memory estimate: a model's shape (common/model_shape.hpp) + the engine's settings (its command line,
// common/engine_flags.hpp) -> weights, KV cache, compute buffers and prompt cache, and how much of it lives in GPU
// memory. KV per token = sum over layers that keep KV of KV heads x (K dim x K bits + V dim x V bits) / 8;
// sliding-window layers hold at most the window (plus a micro-batch) per sequence. The buffer figures per engine
// kind come from measurements (docs/resources.md says how they were taken). Pure arithmetic, never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/engine_flags.hpp"
#include "common/model_shape.hpp"

namespace llmux {

// What the machine offers the engine: none (CPU only), a discrete GPU with its own memory, or unified memory
// (Apple Silicon: GPU memory is system memory).
enum class Accelerator { none, discrete, unified };

struct KvParams {
  uint64_t tokens = 0;     // cells per stream
  uint32_t streams = 1;    // separate caches (llama-server slots without -kvu)
  uint64_t window_tokens = 0;  // what a sliding-window layer keeps per stream (0 = as many as `tokens`)
  double k_bits = 16, v_bits = 16;
};

// Bytes of KV cache (all streams).
uint64_t kv_cache_bytes(const ModelShape& s, const KvParams& p);
// Bytes per token of context in full-attention layers (the figure `llmux fit` prints).
double kv_bytes_per_token(const ModelShape& s, double k_bits, double v_bits);

struct EngineEstimate {
  EngineKind kind = EngineKind::unknown;
  uint64_t ctx = 0;         // tokens the KV cache is sized for (all slots together)
  uint32_t sequences = 1;   // slots / parallel sequences
  double k_bits = 16, v_bits = 16;
  uint64_t weights = 0, kv = 0, buffers = 0, cache = 0;
  uint64_t cache_limit = 0;  // the most the prompt cache may grow to (0 = none or unbounded is said in notes)
  uint64_t gpu = 0;          // of weights + kv + buffers, the part in a discrete GPU's memory
  std::vector<std::string> notes;  // assumptions made ("context 0 = the model's 131072 tokens", ...)
  uint64_t total() const { return weights + kv + buffers + cache; }
};

// `weights` is the size measured on disk (it may differ from the shape's tensor sum: a config override, a
// directory with extra files). `gpu_total` is the engine's GPU's memory when known (vLLM claims a share of it).
EngineEstimate estimate_engine(const ModelShape& shape, uint64_t weights, const EngineSettings& settings,
                               Accelerator accel, std::optional<uint64_t> gpu_total = std::nullopt);

// Runtime memory of an engine kind beyond weights, KV and compute buffers (measured; docs/resources.md).
uint64_t engine_runtime_bytes(EngineKind kind);

}  // namespace llmux
