// KV arithmetic and engine settings against hand-computed figures.
#include "common/engine_estimate.hpp"

#include <gtest/gtest.h>

#include "common/engine_flags.hpp"

namespace llmux {
namespace {

constexpr uint64_t kKiB = 1ull << 10;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

ModelShape uniform(uint32_t layers, uint32_t kv_heads, uint32_t head_dim) {
  ModelShape s;
  s.layers = layers;
  s.kv.assign(layers, LayerKv{kv_heads, head_dim, head_dim, false});
  return s;
}

EngineSettings llama(const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {"/opt/bin/llama-server", "-m", "x.gguf"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  return parse_engine_args(argv);
}

TEST(KvArithmetic, GqaLlama3Shape) {
  // 32 layers x 8 KV heads x 128 dims x (K + V) x 2 bytes = 128 KiB per token; 8192 tokens = 1 GiB.
  const ModelShape s = uniform(32, 8, 128);
  EXPECT_EQ(kv_bytes_per_token(s, 16, 16), 128.0 * kKiB);
  EXPECT_EQ(kv_cache_bytes(s, KvParams{8192, 1, 0, 16, 16}), kGiB);
  // q8_0 for both (8.5 bits): 0.53125 GiB.
  EXPECT_EQ(kv_cache_bytes(s, KvParams{8192, 1, 0, 8.5, 8.5}), kGiB / 32 * 17);
}

TEST(KvArithmetic, HybridCountsOnlyAttentionLayers) {
  ModelShape s = uniform(8, 2, 256);
  for (uint32_t il = 0; il < 8; ++il) {
    if ((il + 1) % 4 != 0) s.kv[il].kv_heads = 0;  // linear-attention layers
  }
  // 2 layers x 2 heads x 256 x 2 (K, V) x 2 bytes = 4 KiB per token.
  EXPECT_EQ(kv_bytes_per_token(s, 16, 16), 4.0 * kKiB);
  EXPECT_EQ(kv_cache_bytes(s, KvParams{1000, 1, 0, 16, 16}), 4000 * kKiB);
}

TEST(KvArithmetic, SlidingWindowCapsThoseLayers) {
  ModelShape s = uniform(6, 1, 256);
  s.sliding_window = 1024;
  for (uint32_t il = 0; il < 5; ++il) s.kv[il].swa = true;
  // llama-server -c 32768 -np 1: the global layer keeps 32768 cells, each sliding layer
  // pad256(1024 + 512 micro-batch) = 1536. Per cell: 1 head x 512 dims x 2 bytes = 1 KiB.
  const EngineEstimate e = estimate_engine(s, 0, llama({"-c", "32768", "-np", "1"}), Accelerator::none);
  EXPECT_EQ(e.kv, 32768 * kKiB + 5 * 1536 * kKiB);
  // --swa-full: every layer keeps the whole context.
  EXPECT_EQ(estimate_engine(s, 0, llama({"-c", "32768", "-np", "1", "--swa-full"}), Accelerator::none).kv,
            6 * 32768 * kKiB);
}

TEST(KvArithmetic, ParallelSlotsUnifiedOrNot) {
  ModelShape s = uniform(6, 1, 256);
  s.sliding_window = 1024;
  for (uint32_t il = 0; il < 5; ++il) s.kv[il].swa = true;
  // -np 4 -kvu: one cache of 8192 cells; a sliding layer keeps pad256(1024 x 4 + 512) = 4608.
  EngineEstimate unified = estimate_engine(s, 0, llama({"-c", "8192", "-np", "4", "-kvu"}), Accelerator::none);
  EXPECT_EQ(unified.kv, 8192 * kKiB + 5 * 4608 * kKiB);
  EXPECT_EQ(unified.sequences, 4u);
  // -np 4 without -kvu: 4 streams of 2048 cells; a sliding layer keeps min(2048, 1536) per stream.
  EngineEstimate split = estimate_engine(s, 0, llama({"-c", "8192", "-np", "4"}), Accelerator::none);
  EXPECT_EQ(split.kv, 4 * (2048 * kKiB + 5 * 1536 * kKiB));
  // No -np: llama-server's auto mode, 4 slots sharing a unified cache.
  EXPECT_EQ(estimate_engine(s, 0, llama({"-c", "8192"}), Accelerator::none).kv, unified.kv);
}

TEST(KvArithmetic, AsymmetricMlxBits) {
  auto e = parse_engine_args({"mlx_lm.server", "--model", "m", "--kv-bits", "(8, 4)", "--max-kv-size", "1000"});
  EXPECT_EQ(e.kind, EngineKind::mlx_lm);
  EXPECT_DOUBLE_EQ(e.k_bits, 8.5);  // + an fp16 scale and bias per group of 64
  EXPECT_DOUBLE_EQ(e.v_bits, 4.5);
  const ModelShape s = uniform(1, 1, 128);
  // 1000 tokens x 128 x (8.5 + 4.5) bits = 208000 bytes.
  EXPECT_EQ(estimate_engine(s, 0, e, Accelerator::unified).kv, 208000u);
  auto g32 = parse_engine_args({"mlx_lm.server", "--kv-bits=4", "--kv-group-size", "32"});
  EXPECT_DOUBLE_EQ(g32.k_bits, 5);
  EXPECT_DOUBLE_EQ(g32.v_bits, 5);
}

TEST(EngineFlags, LlamaServerFlagsBothSpellings) {
  auto e = llama({"--ctx-size=16384", "-np", "2", "-ctk", "q8_0", "--cache-type-v", "q4_0", "-ngl", "99",
                  "-fa", "on", "-b", "1024", "--ubatch-size", "256", "--cache-ram", "0"});
  EXPECT_EQ(e.kind, EngineKind::llama_server);
  EXPECT_EQ(e.ctx, 16384u);
  EXPECT_EQ(e.parallel, 2);
  EXPECT_DOUBLE_EQ(e.k_bits, 8.5);
  EXPECT_DOUBLE_EQ(e.v_bits, 4.5);
  EXPECT_EQ(e.gpu_layers, 99);
  EXPECT_EQ(e.flash_attn, "on");
  EXPECT_EQ(e.batch, 1024u);
  EXPECT_EQ(e.ubatch, 256u);
  EXPECT_EQ(e.cache_ram_mib, 0);
  EXPECT_TRUE(e.problems.empty());
  auto bad = llama({"-c", "lots", "-ctk", "q3_weird"});
  EXPECT_EQ(bad.ctx, std::nullopt);
  EXPECT_EQ(bad.problems, (std::vector<std::string>{"-c: cannot read 'lots'", "-ctk: cannot read 'q3_weird'"}));
}

TEST(EngineFlags, VllmAndDetection) {
  auto v = parse_engine_args({"vllm", "serve", "org/m", "--max-model-len", "4096", "--kv-cache-dtype", "fp8_e5m2",
                              "--gpu-memory-utilization", "0.5", "--max-num-seqs", "8"});
  EXPECT_EQ(v.kind, EngineKind::vllm);
  EXPECT_EQ(v.ctx, 4096u);
  EXPECT_DOUBLE_EQ(v.k_bits, 8);
  EXPECT_EQ(v.gpu_utilization, 0.5);
  EXPECT_EQ(v.parallel, 8);
  EXPECT_EQ(detect_engine({"vllm-mlx", "serve", "x"}), EngineKind::vllm_mlx);
  EXPECT_EQ(detect_engine({"python3", "-m", "mlx_lm.server"}), EngineKind::mlx_lm);
  EXPECT_EQ(detect_engine({"uvx", "mlx_lm", "server"}), EngineKind::mlx_lm);
  EXPECT_EQ(detect_engine({"/usr/bin/fake_engine", "--port", "1"}), EngineKind::unknown);
  EXPECT_EQ(parse_kv_bits("(8, 4)"), std::make_pair(8, 4));
  EXPECT_EQ(parse_kv_bits("4"), std::make_pair(4, 4));
  EXPECT_EQ(parse_kv_bits("eight"), std::nullopt);
}

TEST(EngineEstimate, LlamaContextZeroIsTheModelsAndCacheRamIsCounted) {
  ModelShape s = uniform(4, 2, 64);
  s.context_length = 1000;
  // -c 0: the training context (padded to 256 cells: 1024); 4 layers x 2 x 64 x 2 x 2 bytes = 2 KiB per cell.
  EngineEstimate e = estimate_engine(s, 10 * kMiB, llama({"-c", "0"}), Accelerator::none);
  EXPECT_EQ(e.ctx, 1024u);
  EXPECT_EQ(e.kv, 2 * kMiB);
  EXPECT_EQ(e.cache, 0u);  // the prompt cache fills with use: not counted at load ...
  EXPECT_EQ(e.cache_limit, 8 * kGiB);  // ... but its bound (--cache-ram default 8 GiB) is known
  EXPECT_EQ(e.gpu, 0u);
  EXPECT_EQ(estimate_engine(s, 0, llama({"-c", "0", "--cache-ram", "512"}), Accelerator::none).cache_limit,
            512 * kMiB);
}

TEST(EngineEstimate, LlamaBuffersMatchWhatLlamaServerLogged) {
  // The bench's small model: embedding 256, feed-forward 688, 32000 tokens, 8 heads. llama-server 0.5.0 logged
  // for -c 4096 -np 1: compute 10.04 MiB + output 0.12 MiB; -c 16384: 22.04 MiB; -ub 256: 5.02 MiB; -fa off:
  // 74.76 MiB. The fitted formula lands within 2 % of each.
  ModelShape s = uniform(4, 2, 32);
  s.embedding = 256;
  s.feed_forward = 688;
  s.vocab = 32000;
  s.heads = 8;
  auto compute = [&](const std::vector<std::string>& flags) {
    return static_cast<double>(estimate_engine(s, 0, llama(flags), Accelerator::none).buffers -
                               engine_runtime_bytes(EngineKind::llama_server)) / kMiB;
  };
  EXPECT_NEAR(compute({"-c", "4096", "-np", "1"}), 10.16, 0.2);
  EXPECT_NEAR(compute({"-c", "16384", "-np", "1"}), 22.16, 0.4);
  EXPECT_NEAR(compute({"-c", "4096", "-np", "1", "-ub", "256"}), 5.14, 0.1);
  EXPECT_NEAR(compute({"-c", "4096", "-np", "1", "-fa", "off"}), 74.88, 1.5);
  EXPECT_NEAR(compute({"-c", "4096", "-np", "4"}), 7.53, 0.2);  // 4 streams of 1024 cells: a smaller mask
}

TEST(EngineEstimate, OffloadedLayersGoToTheGpu) {
  ModelShape s = uniform(4, 2, 64);
  s.layer_bytes = 400 * kMiB;
  s.output_bytes = 50 * kMiB;
  s.token_embd_bytes = 50 * kMiB;
  const EngineSettings half = llama({"-c", "1024", "-ngl", "2"});
  EngineEstimate e = estimate_engine(s, 500 * kMiB, half, Accelerator::discrete);
  // Half the layers: 200 MiB of weights, 1 of the 2 MiB of KV, and the compute buffer.
  EngineEstimate cpu = estimate_engine(s, 500 * kMiB, half, Accelerator::none);
  EXPECT_EQ(cpu.gpu, 0u);
  const uint64_t compute = cpu.buffers - engine_runtime_bytes(EngineKind::llama_server);
  // The CUDA runtime of an offloading engine: 683 MiB on the GPU, 430 MiB of libraries in system memory (H200).
  EXPECT_EQ(e.gpu, 200 * kMiB + kMiB + compute + 683 * kMiB);
  EXPECT_EQ(e.buffers, cpu.buffers + 683 * kMiB + 430 * kMiB);
  // All layers and the output head (-ngl 99 > 4 layers): everything but the token embedding.
  EngineEstimate all = estimate_engine(s, 500 * kMiB, llama({"-c", "1024", "-ngl", "99"}), Accelerator::discrete);
  EXPECT_EQ(all.gpu, 450 * kMiB + 2 * kMiB + compute + 683 * kMiB);
  // -ngl 0: nothing offloaded, no GPU runtime counted (a CPU build is told by -ngl 0, docs/resources.md).
  EngineEstimate none = estimate_engine(s, 500 * kMiB, llama({"-c", "1024", "-ngl", "0"}), Accelerator::discrete);
  EXPECT_EQ(none.gpu, 0u);
  EXPECT_EQ(none.buffers, cpu.buffers);
}

TEST(EngineEstimate, VllmClaimsItsShareOfTheGpu) {
  ModelShape s = uniform(4, 2, 64);
  auto v = parse_engine_args({"vllm", "serve", "m", "--gpu-memory-utilization", "0.5", "--max-model-len", "1024"});
  EngineEstimate e = estimate_engine(s, 4 * kGiB, v, Accelerator::discrete, 80 * kGiB);
  EXPECT_EQ(e.gpu, 40 * kGiB);
  EXPECT_EQ(e.kv, 36 * kGiB);
}

}  // namespace
}  // namespace llmux
