// Eviction: when memory makes llmux stop the resident engine, as pure decisions driven by events. Pressure at
// memory.pressure.evictAt (or critical) evicts a ready worker with nothing in flight; a worker above its memory
// ceiling is retired once its in-flight requests finish and, with onCeiling: restart, started again once: an
// engine that is above its ceiling again before serving a request is only evicted (no restart storm). Acts
// through EvictionEffects (the coordinator: scheduler calls); no I/O, no clock, never throws.
#pragma once

#include <cstddef>
#include <string>

#include "common/config.hpp"
#include "common/sysmem.hpp"
#include "proxy/policy/scheduler.hpp"

namespace llmux {

class EvictionEffects {
 public:
  virtual ~EvictionEffects() = default;
  virtual void evict(StopReason why) = 0;               // retire the resident worker (after its in-flight requests)
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
  void pressure(Pressure level, WorkerPhase phase, size_t in_flight);  // a level reported (or seen once idle)
  CeilingOutcome over_ceiling(const std::string& model);                // the resident crossed its ceiling
  void served() { ceiling_restarted_.clear(); }  // it served a request: a later ceiling may restart it again
  void worker_stopped();                         // a planned restart happens now

 private:
  EvictionEffects& fx_;
  PressureLevel evict_at_ = PressureLevel::warning;
  OnCeiling on_ceiling_ = OnCeiling::evict;
  std::string restart_after_stop_;  // the model to start again once its worker stopped
  std::string ceiling_restarted_;   // restarted for its ceiling and has served nothing since
};

}  // namespace llmux
