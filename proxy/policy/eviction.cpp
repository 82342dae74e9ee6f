#include "proxy/policy/eviction.hpp"

#include <utility>

namespace llmux {

bool EvictionPolicy::evicts(Pressure level) const {
  return level == Pressure::critical || (level == Pressure::warning && evict_at_ == PressureLevel::warning);
}

void EvictionPolicy::pressure(Pressure level, const std::vector<WorkerView>& workers) {
  if (!evicts(level)) return;
  for (const WorkerView& w : workers) {
    if (w.phase != WorkerPhase::ready || w.in_flight > 0 || w.queued > 0) continue;
    if (w.pinned && level != Pressure::critical) continue;
    fx_.evict(w.model, StopReason::pressure);
  }
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
  fx_.evict(model, StopReason::ceiling);
  return out;
}

void EvictionPolicy::worker_stopped(const std::string& model) {
  if (model.empty() || model != restart_after_stop_) return;
  restart_after_stop_.clear();
  fx_.restart(model);
}

}  // namespace llmux
