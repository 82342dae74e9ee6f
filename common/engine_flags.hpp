// The memory-relevant settings an engine's command line gives (argv as common/argv split it, macros expanded):
// which engine it is, the context it sizes its KV cache for, slots, KV cache types, GPU layers, batch sizes and
// prompt caches. Flags are read as `--flag value` and `--flag=value`; the last occurrence wins, as in the engines.
// A value that cannot be read is noted in `problems` and the default kept. Pure, never throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmux {

enum class EngineKind { unknown, llama_server, mlx_lm, vllm, vllm_mlx };
const char* engine_kind_name(EngineKind k);  // "llama-server", "mlx_lm.server", "vllm", "vllm-mlx", "unknown"

struct EngineSettings {
  EngineKind kind = EngineKind::unknown;
  // Context in tokens: llama-server -c (0 = the model's training context), mlx_lm.server --max-kv-size,
  // vLLM --max-model-len. nullopt: the engine's default.
  std::optional<uint64_t> ctx;
  std::optional<int64_t> parallel;  // llama-server -np (-1 = auto), vLLM --max-num-seqs
  bool kv_unified = false;          // llama-server -kvu
  bool swa_full = false;            // llama-server --swa-full
  // Bits per cached element, scales included: llama-server -ctk/-ctv (f16 16, q8_0 8.5, q4_0 4.5, ...);
  // mlx_lm.server --kv-bits B (B + 32/group: an fp16 scale and bias per group), also "(8, 4)" for K8/V4;
  // vLLM --kv-cache-dtype fp8* (8).
  double k_bits = 16, v_bits = 16;
  bool kv_quantized = false;  // a KV type / --kv-bits was given
  uint32_t kv_group = 64;     // mlx_lm.server --kv-group-size
  std::optional<int64_t> gpu_layers;  // llama-server -ngl (-1 auto, <= -2 all)
  std::string flash_attn;             // llama-server -fa value ("on", "off", "auto"; "" = not given)
  uint32_t batch = 2048, ubatch = 512;
  std::optional<int64_t> cache_ram_mib;      // llama-server --cache-ram (-1 unlimited, 0 off)
  std::optional<uint64_t> prompt_cache_size;   // mlx_lm.server --prompt-cache-size (entries)
  std::optional<uint64_t> prompt_cache_bytes;  // mlx_lm.server --prompt-cache-bytes
  std::optional<double> gpu_utilization;       // vLLM / vllm-mlx --gpu-memory-utilization
  std::vector<std::string> problems;           // "-c: expected a number, got 'x'"
};

EngineKind detect_engine(const std::vector<std::string>& argv);
EngineSettings parse_engine_args(const std::vector<std::string>& argv);

// Bits per element of a llama.cpp cache type name ("f16", "q8_0", ...); nullopt for an unknown name.
std::optional<double> llama_cache_type_bits(const std::string& type);
// mlx_lm --kv-bits text: "8", "4", "(8, 4)", "8,4" -> {k, v} bits before group scales; nullopt when unreadable.
std::optional<std::pair<int, int>> parse_kv_bits(const std::string& text);

}  // namespace llmux
