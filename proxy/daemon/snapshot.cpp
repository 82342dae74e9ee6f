// Coordinator snapshots: the one place that reads the supervisor, the scheduler and the memory governor into
// plain values for the admin answers and the loading feedback (proxy/policy/snapshot.hpp).
#include "proxy/daemon/coordinator.hpp"

namespace llmux {

namespace {

WorkerPhase phase_of(WorkerState s) {
  switch (s) {
    case WorkerState::stopped: return WorkerPhase::none;
    case WorkerState::starting: return WorkerPhase::starting;
    case WorkerState::ready: return WorkerPhase::ready;
    case WorkerState::stopping: return WorkerPhase::stopping;
  }
  return WorkerPhase::none;
}

}  // namespace

WorkerSnapshot Coordinator::worker_snapshot() const {
  const WorkerInfo& info = supervisor_.info();
  WorkerSnapshot w;
  w.state = phase_of(info.state);
  w.model = info.model;
  w.last_line = std::string(supervisor_.log().last());
  return w;
}

}  // namespace llmux
