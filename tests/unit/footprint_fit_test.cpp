// Admission arithmetic with GPU memory (figures from an injected fake GPU probe), learned footprints and their
// persistence, ceilings for weights-on-GPU engines.
#include "proxy/policy/footprint_fit.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/config.hpp"
#include "proxy/policy/footprint_view.hpp"
#include "worker/footprint_ledger.hpp"
#include "worker/gpu.hpp"

namespace llmux {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kGiB = 1ull << 30;

// Reports the devices and per-process figures it is given; records which pids it was asked about.
class FakeGpu final : public GpuProbe {
 public:
  std::vector<GpuDevice> devs;
  std::map<pid_t, uint64_t> per_pid;
  std::vector<pid_t> asked;
  std::string name() const override { return "fake"; }
  bool per_process() const override { return true; }
  std::vector<GpuDevice> devices() override { return devs; }
  std::optional<uint64_t> process_memory(const std::vector<pid_t>& pids) override {
    asked = pids;
    uint64_t sum = 0;
    for (pid_t p : pids) sum += per_pid.count(p) ? per_pid[p] : 0;
    return sum;
  }
};

MemoryNow now_from(GpuProbe& gpu, uint64_t total, uint64_t available) {
  MemoryNow now{total, available, {}, {}};
  if (auto g = discrete_gpu_free(gpu)) {
    now.gpu_free = g->free;
    now.gpu_total = g->total;
  }
  return now;
}

Footprint gpu_model() {  // 10 GiB: 9 GiB (weights + KV) on the GPU, 1 GiB in system memory
  Footprint f;
  f.weights = 8 * kGiB;
  f.kv = kGiB;
  f.overhead = kGiB;
  f.gpu = 9 * kGiB;
  return f;
}

TEST(FootprintFit, GpuPartIsCheckedAgainstTheGpusFreeMemory) {
  FakeGpu gpu;
  gpu.devs = {GpuDevice{0, "H200", 130 * kGiB, 140 * kGiB, false}};
  MemoryConfig cfg;  // budget 0.8, reserve 2 GiB, gpuReserve 512 MiB
  const Footprint f = gpu_model();
  EXPECT_EQ(f.host(), kGiB);
  // 10 GiB free on the GPU minus the 512 MiB reserve: 9 GiB fits.
  EXPECT_EQ(check_fit("big", f, now_from(gpu, 32 * kGiB, 16 * kGiB), cfg, true).outcome, FitOutcome::fits);
  gpu.devs[0].used = 135 * kGiB;  // 5 GiB free: not now (an engine that just stopped may still be freeing it)
  EXPECT_EQ(check_fit("big", f, now_from(gpu, 32 * kGiB, 16 * kGiB), cfg, false).outcome, FitOutcome::wait);
  FitVerdict v = check_fit("big", f, now_from(gpu, 32 * kGiB, 16 * kGiB), cfg, true);
  EXPECT_EQ(v.outcome, FitOutcome::refused);
  EXPECT_EQ(v.message, "model 'big' needs 9 GiB of GPU memory but only 4.5 GiB is free on the GPU (5 GiB free "
                       "minus memory.gpuReserve 512 MiB); stop other GPU programs or offload fewer layers");
  gpu.devs[0] = GpuDevice{0, "small", 0, 8 * kGiB, false};  // too small however empty: refused without waiting
  v = check_fit("big", f, now_from(gpu, 32 * kGiB, 16 * kGiB), cfg, false);
  EXPECT_EQ(v.outcome, FitOutcome::refused);
  EXPECT_NE(v.message.find("but the GPU has 8 GiB"), std::string::npos) << v.message;
  gpu.devs[0].unified = true;  // a unified "device" (Metal) is system memory: not a separate pool
  EXPECT_EQ(check_fit("big", f, now_from(gpu, 32 * kGiB, 16 * kGiB), cfg, false).outcome, FitOutcome::fits);
}

TEST(FootprintFit, WeightsOnTheGpuAreNotCountedInSystemMemory) {
  MemoryConfig cfg;
  // 10 GiB in all, 1 GiB of it in system memory: a 4 GiB machine (budget 3.2 GiB, 2 GiB usable) admits it.
  const MemoryNow small{4 * kGiB, 4 * kGiB, {}, {}};
  EXPECT_EQ(check_fit("big", gpu_model(), small, cfg, true).outcome, FitOutcome::fits);
  Footprint on_host = gpu_model();
  on_host.gpu = 0;
  FitVerdict v = check_fit("big", on_host, small, cfg, true);
  EXPECT_EQ(v.outcome, FitOutcome::refused);
  EXPECT_NE(v.message.find("memory.budget allows 3.2 GiB"), std::string::npos) << v.message;
  // The ceiling holds it to what it keeps in system memory (1 GiB x 1.25), not to its weights.
  ModelConfig m;
  EXPECT_EQ(memory_ceiling(m, gpu_model(), 1.25), static_cast<uint64_t>(1.25 * kGiB));
  EXPECT_EQ(memory_ceiling(m, on_host, 1.25), static_cast<uint64_t>(1.25 * 10 * kGiB));
  m.max_memory = 3 * kGiB;
  EXPECT_EQ(memory_ceiling(m, gpu_model(), 1.25), 3 * kGiB);
}

TEST(FootprintFit, PromptCacheRoomRaisesTheCeilingNotTheAdmission) {
  Footprint f;
  f.weights = 400 * kMiB;
  f.kv = 100 * kMiB;
  f.cache = 100 * kMiB;
  f.cache_limit = 8 * kGiB;  // llama-server --cache-ram default
  EXPECT_EQ(f.total(), 600 * kMiB);
  EXPECT_EQ(memory_ceiling(ModelConfig{}, f, 1.0), 500 * kMiB + 8 * kGiB);
}

TEST(FootprintFit, LearnedPeakReplacesTheEstimateUnlessOverridden) {
  Footprint f;
  f.weights = 38 * kMiB;
  f.overhead = 512 * kMiB;
  apply_learned(f, 80 * kMiB, 0, 0.1);
  EXPECT_EQ(f.source, "learned");
  EXPECT_EQ(f.total(), 88 * kMiB);
  EXPECT_EQ(f.estimated(), 550 * kMiB);
  EXPECT_EQ(describe_footprint(f), "88 MiB (learned peak + slack; estimate 550 MiB)");
  nlohmann::json j = footprint_json(f);
  EXPECT_EQ(j["source"], "learned");
  EXPECT_EQ(j["learnedBytes"], 88 * kMiB);
  EXPECT_EQ(j["estimatedBytes"], 550 * kMiB);
  Footprint o;
  o.weights = kGiB;
  o.source = "override";  // kvReservation or overhead given: the user's figures win
  apply_learned(o, 80 * kMiB, 0, 0.1);
  EXPECT_EQ(o.total(), kGiB);
  EXPECT_EQ(o.source, "override");
  EXPECT_EQ(footprint_json(o)["learnedBytes"], 88 * kMiB);  // shown beside it
}

TEST(FootprintFit, WhatIfFlagsPerEngine) {
  EXPECT_EQ(fit_engine_args("llama-server", "8192", "8", "2").args,
            (std::vector<std::string>{"-c", "8192", "-np", "2", "-ctk", "q8_0", "-ctv", "q8_0"}));
  EXPECT_EQ(fit_engine_args("mlx_lm.server", "4096", "(8, 4)", "").args,
            (std::vector<std::string>{"--max-kv-size", "4096", "--kv-bits", "(8, 4)"}));
  EXPECT_EQ(fit_engine_args("vllm", "4096", "8", "16").args,
            (std::vector<std::string>{"--max-model-len", "4096", "--max-num-seqs", "16", "--kv-cache-dtype", "fp8"}));
  EXPECT_EQ(fit_engine_args("unknown", "", "", "").error, "");
  EXPECT_EQ(fit_engine_args("unknown", "4096", "", "").error,
            "--ctx, --kv-bits and --parallel need a known engine (llama-server, mlx_lm.server, vllm, vllm-mlx); "
            "this model's cmd runs 'unknown'");
  EXPECT_EQ(fit_engine_args("llama-server", "lots", "", "").error, "--ctx: expected a number of tokens, got 'lots'");
  EXPECT_EQ(fit_engine_args("llama-server", "", "3", "").error,
            "--kv-bits: expected 16, 8, 5, 4 or a llama.cpp cache type (q8_0, ...), got '3'");
  EXPECT_EQ(fit_engine_args("mlx_lm.server", "", "", "2").error, "--parallel: mlx_lm.server has no slot count");
}

TEST(FootprintFit, FitReportSaysWhatIsShort) {
  Footprint f;
  f.weights = 2 * kGiB;
  f.kv = kGiB;
  f.engine = "llama-server";
  f.ctx = 8192;
  MemoryConfig cfg;
  const nlohmann::json j = fit_json("m", f, MemoryNow{8 * kGiB, 4 * kGiB, {}, {}}, cfg);
  EXPECT_EQ(j["fits"], false);
  EXPECT_EQ(j["usableBytes"], 2 * kGiB);
  const std::string text = fit_text(j);
  EXPECT_NE(text.find("m on llama-server, 8192 tokens of context"), std::string::npos) << text;
  EXPECT_NE(text.find("does not fit: model 'm' needs 3 GiB"), std::string::npos) << text;
  EXPECT_NE(text.find("only 2 GiB is available now"), std::string::npos) << text;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "llmux-ledger-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(root_); }
  std::string path(const std::string& rel) const { return (root_ / rel).string(); }

 private:
  fs::path root_;
};

TEST(FootprintLedger, PeaksPersistAndOnlyGrow) {
  TempDir d;
  const std::string key = FootprintLedger::key("m", {"llama-server", "-c", "4096"});
  EXPECT_NE(key, FootprintLedger::key("m", {"llama-server", "-c", "8192"}));  // another context: another entry
  EXPECT_NE(key, FootprintLedger::key("m", {"llama-server", "-c4", "096"}));  // word boundaries count
  {
    FootprintLedger l(d.path("state"));
    EXPECT_FALSE(l.find(key));
    EXPECT_TRUE(l.record(key, 100 * kMiB, 0));
    EXPECT_FALSE(l.record(key, 90 * kMiB, 0));  // lower: nothing to write
    EXPECT_TRUE(l.record(key, 90 * kMiB, 2 * kGiB));
  }
  FootprintLedger again(d.path("state"));  // a restart
  auto f = again.find(key);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->host_peak, 100 * kMiB);
  EXPECT_EQ(f->gpu_peak, 2 * kGiB);
  EXPECT_FALSE(f->updated.empty());
  EXPECT_EQ(fs::status(d.path("state")).permissions() & fs::perms::others_all, fs::perms::none);
  std::ofstream(d.path("state/footprints.json")) << "{not json";
  FootprintLedger broken(d.path("state"));  // unreadable: starts afresh (one warning), never throws
  EXPECT_FALSE(broken.find(key));
  EXPECT_TRUE(broken.record(key, kMiB, 0));
  EXPECT_TRUE(FootprintLedger(d.path("state")).find(key));
  FootprintLedger off("");
  EXPECT_TRUE(off.record(key, kMiB, 0));  // kept in memory only
  EXPECT_TRUE(off.find(key));
}

TEST(GpuProbe, FakeDevicesAndTheNullProbe) {
  FakeGpu gpu;
  gpu.devs = {GpuDevice{0, "unified", 1, 2, true}, GpuDevice{1, "card", 3 * kGiB, 24 * kGiB, false}};
  auto free = discrete_gpu_free(gpu);
  ASSERT_TRUE(free);
  EXPECT_EQ(free->free, 21 * kGiB);
  EXPECT_EQ(free->total, 24 * kGiB);
  auto none = make_null_gpu_probe();
  EXPECT_FALSE(discrete_gpu_free(*none));
  EXPECT_FALSE(none->per_process());
  EXPECT_EQ(none->process_memory({::getpid()}), std::nullopt);
}

// On a machine with an NVIDIA driver this talks to the real NVML; elsewhere it says why it is skipped.
TEST(GpuProbe, RealNvmlWhenPresent) {
  auto probe = make_gpu_probe();
#ifdef __APPLE__
  GTEST_SKIP() << "macOS: NVML does not exist; the Metal probe is covered by its own platform";
#endif
  if (probe->name() != "nvml") GTEST_SKIP() << "no NVML here (libnvidia-ml.so.1 missing or no NVIDIA device)";
  const auto devices = probe->devices();
  ASSERT_FALSE(devices.empty());
  for (const GpuDevice& d : devices) {
    EXPECT_GT(d.total, 0u) << d.name;
    EXPECT_LE(d.used, d.total) << d.name;
  }
  auto mine = probe->process_memory({::getpid()});
  ASSERT_TRUE(mine);
  EXPECT_EQ(*mine, 0u) << "this test process holds no GPU memory";
}

}  // namespace
}  // namespace llmux

namespace llmux {
namespace {

TEST(FootprintConfig, NewMemoryKeysAndTheirErrors) {
  auto cfg = load_config_text("memory:\n  gpuReserve: 1GiB\n  idleSampleInterval: 0\n  learnedSlack: 0.25\n"
                              "models:\n  a:\n    cmd: x --port ${PORT}\n", "c.yaml");
  EXPECT_EQ(cfg->memory.gpu_reserve, 1ull << 30);
  EXPECT_EQ(cfg->memory.idle_sample_interval.count(), 0);
  EXPECT_EQ(cfg->memory.learned_slack, 0.25);
  EXPECT_FALSE(cfg->models[0].overhead.has_value());
  auto defaults = load_config_text("models:\n  a:\n    cmd: x --port ${PORT}\n", "c.yaml");
  EXPECT_EQ(defaults->memory.idle_sample_interval, std::chrono::seconds(30));
  EXPECT_EQ(defaults->memory.learned_slack, 0.1);
  auto error = [](const std::string& memory) {
    try {
      load_config_text("memory:\n" + memory + "models:\n  a:\n    cmd: x --port ${PORT}\n", "c.yaml");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error("  learnedSlack: 2\n"), "c.yaml:2: memory.learnedSlack: must be between 0 and 1, got '2'");
  EXPECT_EQ(error("  idleSampleInterval: 200ms\n"),
            "c.yaml:2: memory.idleSampleInterval: must be 0 (off) or at least 1s, got '200ms'");
  EXPECT_NE(error("  gpuReserve: lots\n").find("memory.gpuReserve: expected a size"), std::string::npos);
}

}  // namespace
}  // namespace llmux

namespace llmux {

// Co-residency: residents' shares add up against the budget and the GPU's total; nothing is refused blind.
TEST(FitsBeside, ResidentsAddUpAgainstTheBudgetAndTheGpu) {
  MemoryConfig cfg;
  cfg.budget = MemoryAmount{0.5, 0};  // of 16 kGiB: 8 kGiB
  cfg.gpu_reserve = 1 * kGiB;
  const SystemMemory mem{16 * kGiB, 10 * kGiB};
  Footprint f;
  f.weights = 3 * kGiB;
  EXPECT_TRUE(fits_beside(f, {}, cfg, mem, std::nullopt));
  EXPECT_TRUE(fits_beside(f, {{3 * kGiB, 0}, {2 * kGiB, 0}}, cfg, mem, std::nullopt));     // 8 kGiB: exactly
  EXPECT_FALSE(fits_beside(f, {{3 * kGiB, 0}, {2 * kGiB + 1, 0}}, cfg, mem, std::nullopt));  // a byte over
  EXPECT_TRUE(fits_beside(f, {{30 * kGiB, 0}}, cfg, std::nullopt, std::nullopt)) << "the platform cannot tell";

  Footprint g;  // 6 kGiB, of which 5 kGiB on the GPU
  g.weights = 6 * kGiB;
  g.gpu = 5 * kGiB;
  EXPECT_TRUE(fits_beside(g, {{1 * kGiB, 10 * kGiB}}, cfg, mem, 16 * kGiB));   // 15 + 1 reserve = 16
  EXPECT_FALSE(fits_beside(g, {{1 * kGiB, 11 * kGiB}}, cfg, mem, 16 * kGiB));  // 16 + 1 > 16
  EXPECT_TRUE(fits_beside(g, {{1 * kGiB, 11 * kGiB}}, cfg, mem, std::nullopt)) << "no discrete GPU known";
}

}  // namespace llmux
