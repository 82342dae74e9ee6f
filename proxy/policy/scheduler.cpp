#include "proxy/policy/scheduler.hpp"

#include <algorithm>

namespace llmux {

const char* to_string(WorkerPhase p) {
  switch (p) {
    case WorkerPhase::none: return "none";
    case WorkerPhase::starting: return "starting";
    case WorkerPhase::ready: return "ready";
    case WorkerPhase::stopping: return "stopping";
  }
  return "?";
}

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::swap: return "swap";
    case StopReason::ttl: return "ttl";
    case StopReason::unload: return "unload";
    case StopReason::shutdown: return "shutdown";
    case StopReason::reload: return "reload";
    case StopReason::ceiling: return "ceiling";
    case StopReason::pressure: return "pressure";
  }
  return "?";
}

namespace {

// Removes `id` from an unordered id list; false if it was not there.
bool remove_id(std::vector<RequestId>& ids, RequestId id) {
  auto it = std::find(ids.begin(), ids.end(), id);
  if (it == ids.end()) return false;
  *it = ids.back();
  ids.pop_back();
  return true;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

Scheduler::Scheduler(SchedulerEffects& fx, SchedulerOptions opts) : fx_(fx) { set_options(std::move(opts)); }

void Scheduler::set_options(SchedulerOptions opts) {
  opts_ = std::move(opts);
  if (!opts_.now) opts_.now = [] { return SchedClock::now(); };
  if (opts_.max_swaps_waited < 1) opts_.max_swaps_waited = 1;
  if (opts_.naive_fifo) opts_.max_resident = 1;
  for (auto& w : workers_) w.policy = policy(w.model);
}

ModelPolicy Scheduler::policy(const std::string& model) const {
  return opts_.policy ? opts_.policy(model) : ModelPolicy{};
}

Scheduler::Worker* Scheduler::find(const std::string& model) {
  for (auto& w : workers_)
    if (w.model == model) return &w;
  return nullptr;
}

const Scheduler::Worker* Scheduler::find(const std::string& model) const {
  return const_cast<Scheduler*>(this)->find(model);
}

// ---- queries ----

std::vector<WorkerView> Scheduler::workers() const {
  std::vector<WorkerView> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_)
    out.push_back({w.model, w.phase, w.active.size(), queued_for(w.model), w.idle, w.policy.pinned, w.last_used});
  return out;
}

WorkerPhase Scheduler::phase(const std::string& model) const {
  const Worker* w = find(model);
  return w ? w->phase : WorkerPhase::none;
}

const std::string& Scheduler::model() const {
  static const std::string none;
  return workers_.empty() ? none : workers_.front().model;
}

size_t Scheduler::in_flight() const {
  size_t n = 0;
  for (const auto& w : workers_) n += w.active.size();
  return n;
}

size_t Scheduler::queued_for(const std::string& model) const {
  return static_cast<size_t>(
      std::count_if(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.model == model; }));
}

bool Scheduler::idle(const std::string& model) const {
  const Worker* w = find(model);
  return w && w->idle;
}

// ---- requests ----

bool Scheduler::try_grant(RequestId id, const std::string& model) {
  Worker* w = find(model);
  if (!w || w->phase != WorkerPhase::ready || !queue_.empty() || w->retire || shutdown_ || !has_capacity(*w))
    return false;
  admit(*w, id);
  return true;
}

void Scheduler::submit(RequestId id, const std::string& model) {
  if (shutdown_) return fx_.deny(id, model, DenyReason::shutdown);
  Worker* w = find(model);
  if (w && w->phase == WorkerPhase::ready && queued_for(model) == 0 && may_grant(*w, is_victim(model))) {
    admit(*w, id);
    return fx_.grant(id);
  }
  if (queued_for(model) >= policy(model).queue_max) return fx_.deny(id, model, DenyReason::queue_full);
  queue_.push_back({id, model});
  pump();
}

void Scheduler::cancel(RequestId id) {
  auto it = std::find_if(queue_.begin(), queue_.end(), [id](const Waiting& w) { return w.id == id; });
  if (it == queue_.end()) return;
  queue_.erase(it);
  pump();
}

void Scheduler::finished(RequestId id) {
  if (!orphans_.empty() && remove_id(orphans_, id)) return;
  for (auto& w : workers_) {
    if (!remove_id(w.active, id)) continue;
    w.last_finish = w.last_used = opts_.now();
    return pump();
  }
}

// ---- worker events ----

void Scheduler::worker_ready(const std::string& model) {
  Worker* w = find(model);
  if (!w || w->phase != WorkerPhase::starting) return;
  w->phase = WorkerPhase::ready;
  w->ready_at = w->last_finish = w->last_used = opts_.now();
  grant_queued_for(*w);
  pump();
}

void Scheduler::worker_start_failed(const std::string& model) {
  Worker* w = find(model);
  if (!w || w->phase != WorkerPhase::starting) return;
  remove(model);
  deny_queued_for(model, DenyReason::start_failed);
  pump();
}

void Scheduler::worker_stopped(const std::string& model) {
  Worker* w = find(model);
  if (!w) return;
  orphans_.insert(orphans_.end(), w->active.begin(), w->active.end());
  remove(model);
  pump();
}

void Scheduler::idle_expired(const std::string& model) {
  Worker* w = find(model);
  if (!w || w->phase != WorkerPhase::ready || !w->active.empty() || queued_for(model) > 0 || w->policy.pinned ||
      is_victim(model))
    return;
  stop(*w, StopReason::ttl);
}

void Scheduler::tick() {
  wake_pending_ = false;
  pump();
}

void Scheduler::retire(const std::string& model, StopReason why) {
  Worker* w = find(model);
  if (!w || (w->phase != WorkerPhase::ready && w->phase != WorkerPhase::starting)) return;
  w->retire = true;
  w->stop_reason = why;
  pump();
}

void Scheduler::retire_all(StopReason why) {
  for (auto& w : workers_) {
    if (w.phase != WorkerPhase::ready && w.phase != WorkerPhase::starting) continue;
    w.retire = true;
    w.stop_reason = why;
  }
  pump();
}

void Scheduler::preload(const std::string& model) {
  if (shutdown_ || find(model)) return;
  std::vector<const Worker*> staying;
  for (const auto& w : workers_) staying.push_back(&w);
  if (room_for(model, staying)) start(model);
}

void Scheduler::shutdown() {
  shutdown_ = true;
  std::deque<Waiting> denied;
  denied.swap(queue_);
  for (const auto& w : denied) fx_.deny(w.id, w.model, DenyReason::shutdown);
  retire_all(StopReason::shutdown);
}

// ---- policy ----

bool Scheduler::room_for(const std::string& model, const std::vector<const Worker*>& staying) const {
  if (opts_.max_resident != 0 && staying.size() + 1 > opts_.max_resident) return false;
  if (!opts_.fits) return true;
  std::vector<std::string> names;
  names.reserve(staying.size());
  for (const Worker* w : staying) names.push_back(w->model);
  return opts_.fits(model, names);
}

// Which model to start next: a starved request's first, then the highest priority, then the oldest request's.
// `without_worker`: only models with no worker at all (a model's old worker must be gone before it starts again).
std::string Scheduler::next_model(bool without_worker) const {
  const Waiting* best = nullptr;
  for (const auto& w : queue_) {
    if (without_worker && find(w.model)) continue;
    if (opts_.naive_fifo) return w.model;
    if (w.swaps_seen >= opts_.max_swaps_waited) return w.model;
    if (!best || policy(w.model).priority > policy(best->model).priority) best = &w;
  }
  return best ? best->model : std::string();
}

// The next model to start and whom it evicts: the least recently used evictable residents, idle ones first,
// as few as make room. Recomputed at every decision, so a cancelled request releases its victims at once.
Scheduler::Plan Scheduler::plan() const {
  Plan p;
  if (shutdown_ || queue_.empty()) return p;
  p.candidate = next_model(true);
  if (p.candidate.empty()) return p;
  std::vector<const Worker*> staying;
  for (const auto& w : workers_) staying.push_back(&w);
  if (room_for(p.candidate, staying)) return p;
  std::vector<const Worker*> remaining;  // without the workers already on their way out
  for (const Worker* w : staying)
    if (w->phase != WorkerPhase::stopping && !w->retire) remaining.push_back(w);
  if (remaining.size() < staying.size() && room_for(p.candidate, remaining)) {
    p.blocked = true;  // room comes once they are gone: evict nobody else
    return p;
  }
  std::vector<const Worker*> order;
  for (const auto& w : workers_)
    if (w.phase == WorkerPhase::ready && !w.policy.pinned && !w.retire) order.push_back(&w);
  auto busy = [this](const Worker* w) { return !w->active.empty() || queued_for(w->model) > 0; };
  std::stable_sort(order.begin(), order.end(), [&](const Worker* a, const Worker* b) {
    if (busy(a) != busy(b)) return !busy(a);
    return a->last_used < b->last_used;
  });
  std::vector<const Worker*> victims;
  for (const Worker* v : order) {
    remaining.erase(std::find(remaining.begin(), remaining.end(), v));
    victims.push_back(v);
    if (!room_for(p.candidate, remaining)) continue;
    // As few as make room: keep back any victim the candidate fits beside after all (a rule such as "one member
    // of a swap group at a time" is met by evicting one particular worker, not the least recently used ones
    // before it). The last chosen (the most recently used, or busy) are kept first.
    for (size_t i = victims.size() - 1; i-- > 0;) {
      remaining.push_back(victims[i]);
      if (room_for(p.candidate, remaining)) victims.erase(victims.begin() + static_cast<std::ptrdiff_t>(i));
      else remaining.pop_back();
    }
    for (const Worker* w : victims) p.victims.push_back(w->model);
    return p;
  }
  p.victims.clear();
  p.blocked = true;
  std::vector<const Worker*> pinned;  // what stays for good: every other worker can go (starting ones once ready)
  for (const auto& w : workers_)
    if (w.policy.pinned && !w.retire && w.phase != WorkerPhase::stopping) pinned.push_back(&w);
  p.never = !room_for(p.candidate, pinned);
  return p;
}

bool Scheduler::is_victim(const std::string& model) const {
  return !queue_.empty() && contains(plan().victims, model);
}

bool Scheduler::in_min_residency(const Worker& w) const {
  if (opts_.naive_fifo) return false;
  auto window = w.policy.min_residency;
  return window.count() > 0 && opts_.now() < w.ready_at + window;
}

// While others wait, an idle victim inside its minResidency window is held only for a quarter of the window
// after its last request finished: long enough for a burst's next request, without idling the window away.
SchedClock::time_point Scheduler::hold_until(const Worker& w) const {
  auto window = w.policy.min_residency;
  return std::min(w.ready_at + window, w.last_finish + window / 4);
}

bool Scheduler::has_capacity(const Worker& w) {
  size_t max = w.policy.max_concurrency;
  return max == 0 || w.active.size() < max;
}

// May a request for this ready worker be granted now (capacity aside from queue order)?
bool Scheduler::may_grant(const Worker& w, bool victim) const {
  if (w.retire || !has_capacity(w)) return false;
  return !victim || in_min_residency(w);
}

void Scheduler::admit(Worker& w, RequestId id) {
  w.active.push_back(id);
  w.last_used = opts_.now();
  if (w.idle) {
    w.idle = false;
    fx_.worker_busy(w.model);
  }
}

// Grouping: requests queued for the worker go together, in arrival order, up to its concurrency limit. In naive
// FIFO mode only the ones ahead of the first request for another model go.
void Scheduler::grant_queued_for(Worker& w) {
  for (auto it = queue_.begin(); it != queue_.end() && has_capacity(w) && !w.retire;) {
    if (it->model != w.model) {
      if (opts_.naive_fifo) break;
      ++it;
      continue;
    }
    RequestId id = it->id;
    it = queue_.erase(it);
    admit(w, id);
    fx_.grant(id);
  }
}

void Scheduler::deny_queued_for(const std::string& model, DenyReason why) {
  std::deque<Waiting> rest, denied;
  for (auto& w : queue_) (w.model == model ? denied : rest).push_back(std::move(w));
  queue_.swap(rest);
  for (const auto& w : denied) fx_.deny(w.id, w.model, why);
}

void Scheduler::start(const std::string& model) {
  Worker w;
  w.model = model;
  w.policy = policy(model);
  workers_.push_back(std::move(w));
  ++swaps_;
  for (auto& q : queue_)
    if (q.model != model) ++q.swaps_seen;
  fx_.start_worker(model);
}

void Scheduler::stop(Worker& w, StopReason why) {
  w.phase = WorkerPhase::stopping;
  w.retire = false;
  if (w.idle) {
    w.idle = false;
    fx_.worker_busy(w.model);
  }
  fx_.stop_worker(w.model, why);
}

void Scheduler::remove(const std::string& model) {
  workers_.erase(std::remove_if(workers_.begin(), workers_.end(), [&](const Worker& w) { return w.model == model; }),
                 workers_.end());
}

void Scheduler::request_wake(SchedClock::time_point t) {
  if (wake_pending_ && wake_at_ <= t) return;
  wake_pending_ = true;
  wake_at_ = t;
  fx_.wake_at(t);
}

// A drained ready worker: stop it (retired, or a victim whose hold is over), hold it, or mark it idle.
void Scheduler::settle(Worker& w, bool victim) {
  if (!w.active.empty()) return;
  if (w.retire) return stop(w, w.stop_reason);
  if (victim) {
    if (!opts_.naive_fifo && next_model(false) == w.model) {
      // Its own waiting requests come first (oldest, priority or starvation bound): serve them instead of stopping
      // it only to load it again. For the others this counts as a swap they waited behind.
      for (auto& q : queue_)
        if (q.model != w.model) ++q.swaps_seen;
      grant_queued_for(w);
      if (!w.active.empty()) return;
    }
    if (!in_min_residency(w) || opts_.now() >= hold_until(w)) return stop(w, StopReason::swap);
    return request_wake(hold_until(w));  // deferred by minResidency: look again when the hold ends
  }
  if (queued_for(w.model) == 0 && !w.idle) {
    w.idle = true;
    fx_.worker_idle(w.model);
  }
}

// Re-evaluates the state after any event. Effects never re-enter the scheduler synchronously.
void Scheduler::pump() {
  for (;;) {
    Plan p = plan();
    for (auto& w : workers_) {
      if (w.phase != WorkerPhase::ready) continue;
      bool victim = contains(p.victims, w.model);
      if (may_grant(w, victim) || (opts_.naive_fifo && !queue_.empty() && queue_.front().model == w.model))
        grant_queued_for(w);
    }
    for (auto& w : workers_)
      if (w.phase == WorkerPhase::ready) settle(w, contains(p.victims, w.model));
    if (p.never) {
      deny_queued_for(p.candidate, DenyReason::no_room);
      continue;
    }
    if (p.candidate.empty() || p.blocked || !p.victims.empty()) return;
    start(p.candidate);  // and look again: another waiting model may fit beside it
  }
}

}  // namespace llmux
