// Coordinator snapshots: the one place that reads the supervisor, the scheduler, the memory governor and the
// daemon's facts into plain values for the admin answers and the loading feedback (proxy/policy/snapshot.hpp).
#include <unistd.h>

#include <algorithm>

#include "common/remote_health.hpp"
#include "common/seconds.hpp"
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
  w.health_line = std::string(supervisor_.log().last_with(kRemoteHealthMarker));
  w.pid = info.pid;
  w.endpoint = info.endpoint;
  w.started_at = info.started_at;
  w.load_seconds = seconds(info.load_time);
  return w;
}

DaemonSnapshot Coordinator::snapshot(const DaemonInfo& d) const {
  DaemonSnapshot s;
  s.now = std::chrono::system_clock::now();
  s.config = config_;
  s.worker = worker_snapshot();
  s.worker_memory = memory_.worker();
  s.queued = scheduler_.queued();
  s.in_flight = scheduler_.in_flight();
  s.swaps = scheduler_.swaps();
  const auto now = SchedClock::now();
  if (history_.idle_since) s.idle_seconds = seconds_between(*history_.idle_since, now);
  if (history_.ttl_expires) s.ttl_remaining_seconds = std::max(0.0, seconds_between(now, *history_.ttl_expires));
  s.last_load_seconds = history_.last_load_seconds;
  s.last_swap_seconds = history_.last_swap_seconds;
  s.last_stop_reason = history_.last_stop_reason;
  if (last_failure_) {
    s.last_start_failure = StartFailureSnapshot{last_failure_->model, last_failure_->failure.reason, last_failure_->at,
                                                last_failure_->failure.last_lines};
  }
  s.pressure = to_string(memory_.last_pressure());
  s.pressure_source = memory_.pressure_source();
  s.memory = read_system_memory();
  for (const GpuDevice& g : memory_.gpu().devices()) s.gpus.push_back({g.index, g.name, g.used, g.total, g.unified});
  for (const auto& m : config_->models) s.footprints.emplace(m.id, memory_.footprint(m));
  s.pid = ::getpid();
  s.listen = d.listen;
  s.started_at = d.started_at;
  s.config_state = d.config;
  s.redactor = d.secrets->redactor();
  return s;
}

}  // namespace llmux
