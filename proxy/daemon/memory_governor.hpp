// MemoryGovernor: keeps engines inside the machine's memory budget. Before a spawn, admit() compares the model's
// footprint estimate (weights + KV reservation + overhead) with memory.budget and with what is available now
// minus memory.reserve, waiting up to memory.swapWait for memory freed by an unload to come back; a model that
// cannot fit is refused (507) before it is spawned, and no model is loaded while pressure is critical (503).
// The part of a footprint on a discrete GPU is checked against that GPU's free memory (worker/gpu.hpp).
// While workers are resident each one's memory is sampled (proxy/daemon/worker_meter.hpp); crossing its ceiling
// (proxy/policy/footprint_fit.hpp: memory_ceiling) is reported once. Co-residency: fits_beside() says whether a
// model fits beside the workers that stay, counting each by the larger of its estimate and its last sample. The peak of an engine that served requests is
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
#include <vector>

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
  // Whether `m` fits memory.budget (and the GPU) beside the resident workers of `staying` (model ids).
  bool fits_beside(const ModelConfig& m, const std::vector<std::string>& staying) const;
  void worker_started(const std::string& model, pid_t pgid, const ModelConfig& m, bool busy);
  void worker_stopped(const std::string& model);
  // Sampling runs every memory.sampleInterval while the worker has requests in flight, every
  // memory.idleSampleInterval while it rests (and once when it goes idle).
  void set_busy(const std::string& model, bool busy);
  GpuProbe& gpu() const { return *gpu_; }  // its calls only read the OS
  // What the estimate assumes about the machine (a discrete GPU and its size, from the probe).
  EstimateEnv estimate_env() const { return env_; }
  Pressure pressure() { return pressure_.level(); }
  Pressure last_pressure() const { return pressure_.current(); }
  const char* pressure_source() const { return pressure_.source(); }
  std::optional<WorkerMemory> worker(const std::string& model) const;  // nullopt: not resident
  std::optional<uint64_t> ceiling_for(const ModelConfig& m, const Footprint& f) const;
  // Whether the estimate fits the budget (not counting what is free right now).
  bool fits_budget(const Footprint& f) const;
  // The 507 a model gets when its estimate exceeds memory.budget (nullopt when it fits or the OS cannot tell).
  std::optional<ApiError> budget_refusal(const ModelConfig& m) const;

 private:
  // One resident worker's memory. Entries stay once made (a meter's sampling timer may still be due).
  struct Metered {
    std::unique_ptr<WorkerMeter> meter;
    std::optional<WorkerMemory> memory;  // set while resident
    std::string key;                     // its footprint ledger key
    uint64_t learned_rss = 0, learned_gpu = 0;  // what the ledger holds for it
    bool reported_over = false;
  };
  void on_sample(const std::string& model, const MemorySample& s);
  void learn(const std::string& model, Metered& w);
  bool any_resident() const;
  FitVerdict check_now(const ModelConfig& m, const Footprint& f, bool final_try) const;

  net::io_context& io_;
  MemoryConfig cfg_;
  PressureMonitor pressure_;
  OverCeiling on_over_;
  std::unique_ptr<GpuProbe> gpu_;
  EstimateEnv env_;
  std::optional<SystemMemory> system_total_;  // the machine's memory, read at configure() (available unset)
  FootprintLedger ledger_;
  std::map<std::string, Metered> workers_;  // by model
  std::map<std::string, std::pair<ModelConfig, Footprint>> estimates_;
};

}  // namespace llmux
