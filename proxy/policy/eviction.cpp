#include "proxy/policy/eviction.hpp"

#include <utility>

namespace llmux {

bool EvictionPolicy::evicts(Pressure level) const {
  return level == Pressure::critical || (level == Pressure::warning && evict_at_ == PressureLevel::warning);
}

void EvictionPolicy::pressure(Pressure level, WorkerPhase phase, size_t in_flight) {
  if (!evicts(level) || phase != WorkerPhase::ready || in_flight > 0) return;
  fx_.evict(StopReason::pressure);
}

CeilingOutcome EvictionPolicy::over_ceiling(const std::string& model) {
  CeilingOutcome out = CeilingOutcome::evict;
  if (on_ceiling_ == OnCeiling::restart) {
    if (ceiling_restarted_ != model) {
      restart_after_stop_ = model;
      ceiling_restarted_ = model;
      out = CeilingOutcome::restart;
    } else {
      out = CeilingOutcome::evict_repeated;
    }
  }
  fx_.evict(StopReason::ceiling);
  return out;
}

void EvictionPolicy::worker_stopped() {
  if (auto model = std::exchange(restart_after_stop_, {}); !model.empty()) fx_.restart(model);
}

}  // namespace llmux
