#include "common/engine_estimate.hpp"

#include <algorithm>
#include <cmath>

namespace llmux {

namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kDefaultCtx = 4096;       // when neither the flags nor the model say
constexpr uint64_t kMlxDefaultCtx = 8192;    // mlx_lm grows its cache with the conversation: counted up to this
constexpr uint64_t kLlamaPad = 256;          // llama.cpp pads KV cells to 256
// What a GPU build of llama-server holds besides its buffers once it offloads: the CUDA context, kernels and
// cuBLAS on the GPU, and the CUDA libraries in system memory. Measured on an H200 (CUDA 13, driver 580): NVML's
// figure minus the estimated GPU part was 683 MiB for two model shapes (2 and 3.9 GiB), the RSS gap 426-442 MiB
// (docs/resources.md, "Measured on a GPU"). Other GPUs and CUDA versions differ; a learned footprint corrects it.
constexpr uint64_t kGpuRuntimeDevice = 683 * kMiB;
constexpr uint64_t kGpuRuntimeHost = 430 * kMiB;

uint64_t pad_up(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

std::string tokens_text(uint64_t n) { return std::to_string(n) + " tokens"; }

// llama-server's compute and output buffers on the CPU, fitted to the sizes llama-server 0.5.0 logs
// (docs/resources.md, "How the estimate was measured"): with flash attention (auto: on for CPU) the compute buffer
// is one micro-batch of activations, ub x 4 bytes x (5.5 x embedding + 2.5 x feed-forward), plus the attention
// mask, ub x 2 bytes per cell of one stream; without it the attention scores add ub x heads x cells x 4 bytes.
// The output buffer holds one row of logits per slot.
uint64_t llama_compute_bytes(const ModelShape& s, const EngineSettings& e, uint64_t stream_cells, uint32_t slots) {
  const uint64_t ub = std::min<uint64_t>(e.ubatch, e.batch);
  const uint64_t embd = s.embedding != 0 ? s.embedding : 4096;
  const uint64_t ff = s.feed_forward != 0 ? s.feed_forward : 4 * embd;
  const uint64_t vocab = s.vocab != 0 ? s.vocab : 32000;
  uint64_t bytes = ub * 4 * (embd * 11 / 2 + ff * 5 / 2) + ub * 2 * stream_cells + vocab * 4 * slots;
  if (e.flash_attn == "off") bytes += ub * 4 * uint64_t{s.heads != 0 ? s.heads : 32} * stream_cells;
  return bytes;
}

void llama_server(const ModelShape& s, const EngineSettings& e, Accelerator accel, EngineEstimate& out) {
  uint64_t ctx = e.ctx.value_or(0);
  if (ctx == 0) {
    ctx = s.context_length != 0 ? s.context_length : kDefaultCtx;
    out.notes.push_back("context: " + tokens_text(ctx) + (s.context_length != 0 ? " (the model's own)" : " (assumed)"));
  }
  int64_t np = e.parallel.value_or(-1);
  bool unified = e.kv_unified;
  if (np < 0) {  // auto: 4 slots sharing one unified cache
    np = 4;
    unified = true;
  }
  np = std::max<int64_t>(np, 1);
  out.sequences = static_cast<uint32_t>(np);
  out.ctx = pad_up(ctx, kLlamaPad);
  KvParams p;
  p.k_bits = e.k_bits;
  p.v_bits = e.v_bits;
  p.streams = unified ? 1 : static_cast<uint32_t>(np);
  p.tokens = unified ? out.ctx : pad_up(ctx / static_cast<uint64_t>(np), kLlamaPad);
  if (s.sliding_window != 0 && !e.swa_full) {
    p.window_tokens = pad_up(uint64_t{s.sliding_window} * (unified ? np : 1) + e.ubatch, kLlamaPad);
  }
  out.kv = kv_cache_bytes(s, p);
  const uint64_t compute = llama_compute_bytes(s, e, p.tokens, out.sequences);
  out.buffers = compute + engine_runtime_bytes(EngineKind::llama_server);
  // Idle slots are saved to a prompt cache in host memory (--cache-ram, default 8 GiB). It fills only as
  // conversations change, so it is not counted at load; its bound raises the ceiling (footprint_fit).
  const int64_t cram = e.cache_ram_mib.value_or(8192);
  if (cram > 0) out.cache_limit = static_cast<uint64_t>(cram) * kMiB;
  if (cram != 0) out.notes.push_back("prompt cache (--cache-ram): grows with use, up to " +
                                     (cram > 0 ? std::to_string(cram) + " MiB" : std::string("no limit")));
  if (accel != Accelerator::discrete || (e.gpu_layers && *e.gpu_layers == 0)) return;
  // Offloaded layers carry their weights and KV to the GPU; the token embedding stays in host memory.
  const int64_t ngl = e.gpu_layers.value_or(-1);
  const uint64_t layers = std::max<uint32_t>(s.layers, 1);
  const uint64_t off = ngl < 0 ? layers + 1 : std::min<uint64_t>(static_cast<uint64_t>(ngl), layers + 1);
  const double frac = static_cast<double>(std::min(off, layers)) / static_cast<double>(layers);
  uint64_t gpu = static_cast<uint64_t>(static_cast<double>(s.layer_bytes) * frac) +
                 static_cast<uint64_t>(static_cast<double>(out.kv) * frac) + compute + kGpuRuntimeDevice;
  if (off > layers) gpu += s.output_bytes;
  out.buffers += kGpuRuntimeDevice + kGpuRuntimeHost;
  out.gpu = std::min(gpu, out.weights + out.kv + out.buffers);
  out.notes.push_back("GPU layers: " + std::to_string(std::min(off, layers)) + " of " + std::to_string(layers));
}

void mlx_lm(const ModelShape& s, const EngineSettings& e, EngineEstimate& out) {
  uint64_t ctx = e.ctx.value_or(0);
  if (ctx == 0) {
    ctx = std::min(s.context_length != 0 ? s.context_length : kDefaultCtx, kMlxDefaultCtx);
    out.notes.push_back("context: " + tokens_text(ctx) + " counted (no --max-kv-size: the cache grows with use)");
  }
  out.ctx = ctx;
  out.kv = kv_cache_bytes(s, KvParams{ctx, 1, s.sliding_window, e.k_bits, e.v_bits});
  out.buffers = engine_runtime_bytes(EngineKind::mlx_lm);
  if (e.prompt_cache_bytes) out.cache_limit = *e.prompt_cache_bytes;  // grows with use: the ceiling's business
}

void vllm(const ModelShape& s, const EngineSettings& e, Accelerator accel, std::optional<uint64_t> gpu_total,
          EngineEstimate& out) {
  out.ctx = e.ctx.value_or(s.context_length != 0 ? s.context_length : kDefaultCtx);
  out.sequences = static_cast<uint32_t>(std::max<int64_t>(e.parallel.value_or(1), 1));
  out.kv = kv_cache_bytes(s, KvParams{out.ctx, 1, s.sliding_window, e.k_bits, e.v_bits});
  out.buffers = engine_runtime_bytes(out.kind);
  if (accel != Accelerator::discrete || !gpu_total || out.kind != EngineKind::vllm) return;
  // vLLM claims its share of the GPU whatever the model: what the weights leave becomes KV cache.
  const double util = e.gpu_utilization.value_or(0.9);
  const uint64_t claim = static_cast<uint64_t>(static_cast<double>(*gpu_total) * util);
  if (claim > out.weights + out.kv) out.kv = claim - out.weights;
  out.gpu = std::max(claim, out.weights + out.kv);
  out.notes.push_back("GPU: --gpu-memory-utilization " + std::to_string(util).substr(0, 4) + " of the device");
}

}  // namespace

double kv_bytes_per_token(const ModelShape& s, double k_bits, double v_bits) {
  double bits = 0;
  for (const LayerKv& l : s.kv) {
    if (l.kv_heads == 0 || l.swa) continue;
    bits += l.kv_heads * (l.k_dim * k_bits + l.v_dim * v_bits);
  }
  return bits / 8;
}

uint64_t kv_cache_bytes(const ModelShape& s, const KvParams& p) {
  double bits = 0;
  for (const LayerKv& l : s.kv) {
    if (l.kv_heads == 0) continue;
    const uint64_t cells = l.swa && p.window_tokens != 0 ? std::min(p.tokens, p.window_tokens) : p.tokens;
    bits += static_cast<double>(cells) * l.kv_heads * (l.k_dim * p.k_bits + l.v_dim * p.v_bits);
  }
  return static_cast<uint64_t>(std::ceil(bits / 8)) * std::max<uint32_t>(p.streams, 1);
}

uint64_t engine_runtime_bytes(EngineKind kind) {
  switch (kind) {
    case EngineKind::llama_server: return 28 * kMiB;  // libraries, threads, vocabulary: measured, CPU build
    default: return 512 * kMiB;  // not measured here (mlx, vLLM): the old flat overhead
  }
}

EngineEstimate estimate_engine(const ModelShape& shape, uint64_t weights, const EngineSettings& settings,
                               Accelerator accel, std::optional<uint64_t> gpu_total) {
  EngineEstimate out;
  out.kind = settings.kind;
  out.k_bits = settings.k_bits;
  out.v_bits = settings.v_bits;
  out.weights = weights;
  switch (settings.kind) {
    case EngineKind::llama_server: llama_server(shape, settings, accel, out); break;
    case EngineKind::mlx_lm: mlx_lm(shape, settings, out); break;
    case EngineKind::vllm:
    case EngineKind::vllm_mlx: vllm(shape, settings, accel, gpu_total, out); break;
    default: out.buffers = engine_runtime_bytes(settings.kind); break;
  }
  return out;
}

}  // namespace llmux
