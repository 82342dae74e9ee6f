// Eviction: when memory makes llmux stop resident engines, as pure decisions driven by events. Pressure at
// memory.pressure.evictAt (or critical) evicts every ready worker with nothing in flight or queued (a pinned one only
// at critical: the desktop comes first); a worker above its memory
// ceiling is retired once its in-flight requests finish and, with onCeiling: restart, started again once: an
// engine that is above its ceiling again before serving a request is only evicted (no restart storm). Acts
// through EvictionEffects (the coordinator: scheduler calls); no I/O, no clock, never throws.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/sysmem.hpp"
#include "proxy/policy/scheduler.hpp"

namespace llmux {

class EvictionEffects {
 public:
  virtual ~EvictionEffects() = default;
  // Retire `model`'s worker (after its in-flight requests).
  virtual void evict(const std::string& model, StopReason why) = 0;
  virtual void restart(const std::string& model) = 0;  // start `model` again (its worker has stopped)
};

enum class CeilingOutcome {
  evict,            // onCeiling: evict
  restart,          // evicted, and started again once it has stopped
  evict_repeated,   // above its ceiling again right after a restart: evicted, not restarted until a request asks
};

class EvictionPolicy {
 public:
  explicit EvictionPolicy(EvictionEffects& fx) : fx_(fx) {}
  void configure(const MemoryConfig& m) {
    evict_at_ = m.pressure.evict_at;
    on_ceiling_ = m.on_ceiling;
  }
  bool evicts(Pressure level) const;  // does pressure at `level` evict an idle worker?

  // Events.
  // A level reported (or seen once a worker went idle), with the resident workers.
  void pressure(Pressure level, const std::vector<WorkerView>& workers);
  CeilingOutcome over_ceiling(const std::string& model);  // a resident crossed its ceiling
  // `model` served a request: a later ceiling may restart it again.
  void served(const std::string& model) {
    if (model == ceiling_restarted_) ceiling_restarted_.clear();
  }
  void worker_stopped(const std::string& model);  // a planned restart of it happens now

 private:
  EvictionEffects& fx_;
  PressureLevel evict_at_ = PressureLevel::warning;
  OnCeiling on_ceiling_ = OnCeiling::evict;
  std::string restart_after_stop_;  // the model to start again once its worker stopped
  std::string ceiling_restarted_;   // restarted for its ceiling and has served nothing since
};

}  // namespace llmux
