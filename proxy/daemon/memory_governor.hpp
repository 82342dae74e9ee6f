// MemoryGovernor: keeps engines inside the machine's memory budget. Before a spawn, admit() compares the model's
// footprint estimate (weights + KV reservation + overhead) with memory.budget and with what is available now
// minus memory.reserve, waiting up to memory.swapWait for memory freed by an unload to come back; a model that
// cannot fit is refused (507) before it is spawned, and no model is loaded while pressure is critical (503).
// While a worker is resident its process group's memory is sampled every memory.sampleInterval; crossing its
// ceiling (maxMemory, else estimate x ceilingSlack when the weights are known) is reported once.
// System pressure comes from a PressureMonitor. It measures and waits; the arithmetic and the words of each refusal
// are pure (proxy/policy/memory_budget.hpp), and what pressure or a ceiling evicts is EvictionPolicy's
// (proxy/policy/eviction.hpp). io_context thread only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/footprint.hpp"
#include "common/net.hpp"
#include "common/sysmem.hpp"
#include "proxy/policy/snapshot.hpp"
#include "worker/pressure.hpp"

namespace llmux {

class MemoryGovernor {
 public:
  using OverCeiling = std::function<void(const std::string& model, uint64_t rss, uint64_t ceiling)>;
  MemoryGovernor(net::io_context& io, std::function<void(Pressure)> on_pressure, OverCeiling on_over);
  // New config: thresholds, and every model's footprint estimate (disk is walked here, once per load/reload,
  // never per request).
  void configure(const Config& config);
  Footprint footprint(const ModelConfig& m) const;  // cached estimate
  net::awaitable<std::optional<ApiError>> admit(const ModelConfig& m);
  void worker_started(pid_t pgid, const ModelConfig& m, bool busy);
  void worker_stopped();
  // Sampling runs only while the worker has requests in flight (memory grows with work; an idle llmux must not
  // wake up), plus one sample when it goes idle.
  void set_busy(bool busy);
  Pressure pressure() { return pressure_.level(); }
  Pressure last_pressure() const { return pressure_.current(); }
  const char* pressure_source() const { return pressure_.source(); }
  const std::optional<WorkerMemory>& worker() const { return worker_; }
  // Whether the estimate fits the budget (not counting what is free right now).
  bool fits_budget(const Footprint& f) const;
  // The 507 a model gets when its estimate exceeds memory.budget (nullopt when it fits or the OS cannot tell).
  std::optional<ApiError> budget_refusal(const ModelConfig& m) const;

 private:
  void sample();
  void schedule();

  net::io_context& io_;
  MemoryConfig cfg_;
  PressureMonitor pressure_;
  OverCeiling on_over_;
  net::steady_timer sampler_;
  std::optional<WorkerMemory> worker_;
  std::map<std::string, std::pair<ModelConfig, Footprint>> estimates_;
  std::string worker_model_;
  pid_t pgid_ = -1;
  bool reported_over_ = false;
  bool busy_ = false;
  std::chrono::steady_clock::time_point last_sample_{};
  bool sampling_ = false;
  uint64_t gen_ = 0;
};

}  // namespace llmux
