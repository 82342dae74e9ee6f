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

WorkerSnapshot Coordinator::worker_snapshot(const std::string& model) const {
  WorkerSnapshot w;
  const Resident* r = find_resident(model);
  if (r == nullptr) return w;
  const WorkerInfo& info = r->supervisor.info();
  w.state = phase_of(info.state);
  w.model = info.model;
  w.last_line = std::string(r->supervisor.log().last());
  w.health_line = std::string(r->supervisor.log().last_with(kRemoteHealthMarker));
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
  const auto now = SchedClock::now();
  for (const WorkerView& v : scheduler_.workers()) {
    ResidentSnapshot r;
    r.worker = worker_snapshot(v.model);
    if (r.worker.state == WorkerPhase::none) continue;  // decided, not spawned yet (memory admission)
    r.memory = memory_.worker(v.model);
    r.in_flight = v.in_flight;
    r.queued = v.queued;
    r.pinned = v.pinned;
    if (v.last_used != SchedClock::time_point{}) r.last_used_seconds = seconds_between(v.last_used, now);
    if (const Resident* res = find_resident(v.model)) {
      if (res->idle_since && v.in_flight == 0) r.idle_seconds = seconds_between(*res->idle_since, now);
      if (res->ttl_expires) r.ttl_remaining_seconds = std::max(0.0, seconds_between(now, *res->ttl_expires));
    }
    s.workers.push_back(std::move(r));
  }
  s.max_resident = config_->max_resident;
  s.queued = scheduler_.queued();
  s.in_flight = scheduler_.in_flight();
  s.swaps = scheduler_.swaps();
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
