// MemoryGovernor: keeps engines inside the machine's memory budget. Before a spawn, admit() compares the model's
// footprint estimate (weights + KV reservation + overhead) with memory.budget and with what is available now
// minus memory.reserve, waiting up to memory.swapWait for memory freed by an unload to come back; a model that
// cannot fit is refused (507) before it is spawned, and no model is loaded while pressure is critical (503).
// The part of a footprint on a discrete GPU is checked against that GPU's free memory (worker/gpu.hpp).
// While a worker is resident its memory is sampled (proxy/daemon/worker_meter.hpp); crossing its ceiling
// (proxy/policy/footprint_fit.hpp: memory_ceiling) is reported once. The peak of an engine that served requests is
// learned per model and command line (worker/footprint_ledger.hpp) and admits its next start.
// System pressure comes from a PressureMonitor. It measures and waits; the arithmetic and the words of each refusal
// are pure (proxy/policy/footprint_fit.hpp), and what pressure or a ceiling evicts is EvictionPolicy's
// (proxy/policy/eviction.hpp). io_context thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/footprint.hpp"
#include "common/net.hpp"
#include "common/sysmem.hpp"
#include "proxy/daemon/worker_meter.hpp"
#include "proxy/policy/footprint_fit.hpp"
#include "proxy/policy/snapshot.hpp"
#include "worker/footprint_ledger.hpp"
#include "worker/gpu.hpp"
#include "worker/pressure.hpp"

namespace llmux {

class MemoryGovernor {
 public:
  using OverCeiling = std::function<void(const std::string& model, uint64_t rss, uint64_t ceiling)>;
  // `gpu` and `ledger_dir` default to the platform's probe and the user's state directory ("" = learn nothing
  // across restarts).
  MemoryGovernor(net::io_context& io, std::function<void(Pressure)> on_pressure, OverCeiling on_over,
                 std::unique_ptr<GpuProbe> gpu = nullptr, std::optional<std::string> ledger_dir = std::nullopt);
  // New config: thresholds, and every model's footprint estimate (disk is walked here, once per load/reload,
  // never per request).
  void configure(const Config& config);
  Footprint footprint(const ModelConfig& m) const;  // cached estimate, with the learned peak when there is one
  // What-if: the estimate with engine flags appended to the model's command line (`llmux fit --ctx ...`).
  Footprint footprint_with(const ModelConfig& m, const std::vector<std::string>& extra_args) const;
  // System memory and the discrete GPU's free memory now (zeros when the platform cannot tell).
  MemoryNow now() const;
  net::awaitable<std::optional<ApiError>> admit(const ModelConfig& m);
  void worker_started(pid_t pgid, const ModelConfig& m, bool busy);
  void worker_stopped();
  // Sampling runs every memory.sampleInterval while the worker has requests in flight, every
  // memory.idleSampleInterval while it rests (and once when it goes idle).
  void set_busy(bool busy);
  GpuProbe& gpu() const { return *gpu_; }  // its calls only read the OS
  // What the estimate assumes about the machine (a discrete GPU and its size, from the probe).
  EstimateEnv estimate_env() const { return env_; }
  Pressure pressure() { return pressure_.level(); }
  Pressure last_pressure() const { return pressure_.current(); }
  const char* pressure_source() const { return pressure_.source(); }
  const std::optional<WorkerMemory>& worker() const { return worker_; }
  std::optional<uint64_t> ceiling_for(const ModelConfig& m, const Footprint& f) const;
  // Whether the estimate fits the budget (not counting what is free right now).
  bool fits_budget(const Footprint& f) const;
  // The 507 a model gets when its estimate exceeds memory.budget (nullopt when it fits or the OS cannot tell).
  std::optional<ApiError> budget_refusal(const ModelConfig& m) const;

 private:
  void on_sample(const MemorySample& s);
  void learn();
  FitVerdict check_now(const ModelConfig& m, const Footprint& f, bool final_try) const;

  net::io_context& io_;
  MemoryConfig cfg_;
  PressureMonitor pressure_;
  OverCeiling on_over_;
  std::unique_ptr<GpuProbe> gpu_;
  EstimateEnv env_;
  FootprintLedger ledger_;
  WorkerMeter meter_;
  std::optional<WorkerMemory> worker_;
  std::map<std::string, std::pair<ModelConfig, Footprint>> estimates_;
  std::string worker_model_, worker_key_;
  uint64_t learned_rss_ = 0, learned_gpu_ = 0;  // what the ledger holds for the resident worker
  bool reported_over_ = false;
};

}  // namespace llmux
