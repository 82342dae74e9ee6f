// ModelShape: what a model's metadata says about its memory: layers, which layers keep a KV cache and how wide it
// is, the sliding window, the training context, and the weights split into per-layer, output and token-embedding
// parts. Filled by common/gguf (GGUF headers) and common/hf_config (Hugging Face / MLX config.json + safetensors);
// consumed by common/kv_estimate. Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmux {

struct LayerKv {
  uint32_t kv_heads = 0;  // 0: this layer keeps no KV cache (a recurrent / linear-attention layer of a hybrid)
  uint32_t k_dim = 0;     // per head
  uint32_t v_dim = 0;
  bool swa = false;  // sliding-window layer: holds at most `sliding_window` tokens per sequence
  bool operator==(const LayerKv&) const = default;
};

struct ModelShape {
  std::string format;        // "gguf" or "config.json"
  std::string architecture;  // "llama", "qwen3", "gemma3", "Qwen3ForCausalLM", ...
  uint32_t layers = 0;
  uint64_t context_length = 0;  // training context (0 = unknown)
  uint32_t embedding = 0;
  uint32_t feed_forward = 0;  // 0 = unknown
  uint32_t heads = 0;         // attention (query) heads of the first layer; 0 = unknown
  uint32_t vocab = 0;         // 0 = unknown
  uint32_t sliding_window = 0;    // 0 = none
  std::vector<LayerKv> kv;        // one per layer
  uint64_t weights_bytes = 0;     // all tensors
  uint64_t layer_bytes = 0;       // tensors of blocks (blk.N.* / model.layers.N.*)
  uint64_t output_bytes = 0;      // output head (0 when tied to the token embedding)
  uint64_t token_embd_bytes = 0;  // token embedding table
  std::optional<int> quant_bits;  // config.json quantization.bits (MLX)
  uint32_t quant_group = 0;

  uint32_t kv_layer_count() const {
    uint32_t n = 0;
    for (const LayerKv& l : kv) n += l.kv_heads > 0 ? 1 : 0;
    return n;
  }
};

}  // namespace llmux
