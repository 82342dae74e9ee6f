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

Scheduler::Scheduler(SchedulerEffects& fx, SchedulerOptions opts) : fx_(fx) { set_options(std::move(opts)); }

void Scheduler::set_options(SchedulerOptions opts) {
  opts_ = std::move(opts);
  if (!opts_.now) opts_.now = [] { return SchedClock::now(); };
  if (opts_.max_swaps_waited < 1) opts_.max_swaps_waited = 1;
  resident_policy_ = model_.empty() ? ModelPolicy{} : policy(model_);
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

}  // namespace

ModelPolicy Scheduler::policy(const std::string& model) const {
  return opts_.policy ? opts_.policy(model) : ModelPolicy{};
}

size_t Scheduler::queued_for(const std::string& model) const {
  return static_cast<size_t>(
      std::count_if(queue_.begin(), queue_.end(), [&](const Waiting& w) { return w.model == model; }));
}

bool Scheduler::try_grant(RequestId id, const std::string& model) {
  if (phase_ != WorkerPhase::ready || !queue_.empty() || retire_ || shutdown_ || model != model_ || !has_capacity())
    return false;
  admit(id);
  return true;
}

void Scheduler::submit(RequestId id, const std::string& model) {
  if (shutdown_) return fx_.deny(id, model, DenyReason::shutdown);
  bool resident = phase_ == WorkerPhase::ready && model == model_;
  if (resident && queued_for(model) == 0 && may_grant_resident()) return grant_now(id);
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
  if (!remove_id(active_, id)) return;
  last_finish_ = opts_.now();
  pump();
}

void Scheduler::worker_ready() {
  if (phase_ != WorkerPhase::starting) return;
  phase_ = WorkerPhase::ready;
  ready_at_ = last_finish_ = opts_.now();
  grant_queued_for_resident();
  pump();
}

void Scheduler::worker_start_failed() {
  if (phase_ != WorkerPhase::starting) return;
  std::string failed = model_;
  phase_ = WorkerPhase::none;
  model_.clear();
  retire_ = false;
  deny_queued_for(failed);
  pump();
}

void Scheduler::worker_stopped() {
  if (phase_ == WorkerPhase::none) return;
  phase_ = WorkerPhase::none;
  model_.clear();
  retire_ = false;
  idle_ = false;
  orphans_.insert(orphans_.end(), active_.begin(), active_.end());
  active_.clear();
  pump();
}

void Scheduler::idle_expired() {
  if (phase_ == WorkerPhase::ready && active_.empty() && queue_.empty()) stop(StopReason::ttl);
}

void Scheduler::tick() {
  wake_pending_ = false;
  pump();
}

void Scheduler::retire(StopReason why) {
  if (phase_ != WorkerPhase::ready && phase_ != WorkerPhase::starting) return;
  retire_ = true;
  stop_reason_ = why;
  pump();
}

void Scheduler::preload(const std::string& model) {
  if (phase_ == WorkerPhase::none && !shutdown_) start(model);
}

void Scheduler::shutdown() {
  shutdown_ = true;
  std::deque<Waiting> denied;
  denied.swap(queue_);
  for (const auto& w : denied) fx_.deny(w.id, w.model, DenyReason::shutdown);
  if (phase_ == WorkerPhase::ready || phase_ == WorkerPhase::starting) {
    retire_ = true;
    stop_reason_ = StopReason::shutdown;
  }
  pump();
}

bool Scheduler::other_model_waiting() const {
  return std::any_of(queue_.begin(), queue_.end(), [this](const Waiting& w) { return w.model != model_; });
}

bool Scheduler::in_min_residency() const {
  if (opts_.naive_fifo) return false;
  auto window = resident_policy_.min_residency;
  return window.count() > 0 && opts_.now() < ready_at_ + window;
}

// While others wait, an idle resident inside its minResidency window is held only for a quarter of the window
// after its last request finished: long enough for a burst's next request, without idling the window away.
SchedClock::time_point Scheduler::hold_until() const {
  auto window = resident_policy_.min_residency;
  return std::min(ready_at_ + window, last_finish_ + window / 4);
}

bool Scheduler::has_capacity() const {
  size_t max = resident_policy_.max_concurrency;
  return max == 0 || active_.size() < max;
}

// May a request for the ready resident model be granted now (capacity aside from queue order)?
bool Scheduler::may_grant_resident() const {
  if (retire_ || !has_capacity()) return false;
  return !other_model_waiting() || in_min_residency();
}

void Scheduler::admit(RequestId id) {
  active_.push_back(id);
  if (idle_) {
    idle_ = false;
    fx_.worker_busy();
  }
}

void Scheduler::grant_now(RequestId id) {
  admit(id);
  fx_.grant(id);
}

// Grouping: requests queued for the resident go together, in arrival order, up to its concurrency limit. In naive
// FIFO mode only the ones ahead of the first request for another model go.
void Scheduler::grant_queued_for_resident() {
  for (auto it = queue_.begin(); it != queue_.end() && has_capacity() && !retire_;) {
    if (it->model != model_) {
      if (opts_.naive_fifo) break;
      ++it;
      continue;
    }
    RequestId id = it->id;
    it = queue_.erase(it);
    grant_now(id);
  }
}

void Scheduler::deny_queued_for(const std::string& model) {
  std::deque<Waiting> rest, denied;
  for (auto& w : queue_) (w.model == model ? denied : rest).push_back(std::move(w));
  queue_.swap(rest);
  for (const auto& w : denied) fx_.deny(w.id, w.model, DenyReason::start_failed);
}

// Which model to load next: a starved request's first, then the highest priority, then the oldest request's.
std::string Scheduler::next_model() const {
  if (opts_.naive_fifo) return queue_.front().model;
  for (const auto& w : queue_)
    if (w.swaps_seen >= opts_.max_swaps_waited) return w.model;
  const Waiting* best = &queue_.front();
  for (const auto& w : queue_)
    if (policy(w.model).priority > policy(best->model).priority) best = &w;
  return best->model;
}

void Scheduler::start(const std::string& model) {
  phase_ = WorkerPhase::starting;
  model_ = model;
  resident_policy_ = policy(model_);
  ++swaps_;
  for (auto& w : queue_)
    if (w.model != model) ++w.swaps_seen;
  fx_.start_worker(model);
}

void Scheduler::stop(StopReason why) {
  phase_ = WorkerPhase::stopping;
  if (idle_) {
    idle_ = false;
    fx_.worker_busy();
  }
  fx_.stop_worker(why);
}

// Re-evaluates the state after any event. Effects never re-enter the scheduler synchronously.
void Scheduler::pump() {
  switch (phase_) {
    case WorkerPhase::none:
      if (!queue_.empty() && !shutdown_) start(next_model());
      return;
    case WorkerPhase::starting:
    case WorkerPhase::stopping:
      return;
    case WorkerPhase::ready:
      return pump_ready();
  }
}

void Scheduler::pump_ready() {
  if (may_grant_resident() || (opts_.naive_fifo && !queue_.empty() && queue_.front().model == model_))
    grant_queued_for_resident();
  if (!active_.empty()) return;
  bool swap_wanted = other_model_waiting();
  if (swap_wanted && !retire_ && !opts_.naive_fifo && next_model() == model_) {
    // Its own waiting requests come first (oldest, priority or starvation bound): serve them instead of stopping
    // it only to load it again. For the others this counts as a swap they waited behind.
    for (auto& w : queue_)
      if (w.model != model_) ++w.swaps_seen;
    grant_queued_for_resident();
    if (!active_.empty()) return;
  }
  if (retire_ || (swap_wanted && !in_min_residency())) {
    StopReason why = retire_ ? stop_reason_ : StopReason::swap;
    retire_ = false;
    return stop(why);
  }
  if (swap_wanted) {  // deferred by minResidency: look again when the hold ends
    auto until = hold_until();
    if (opts_.now() >= until) return stop(StopReason::swap);
    if (!wake_pending_) {
      wake_pending_ = true;
      fx_.wake_at(until);
    }
    return;
  }
  if (queue_.empty() && !idle_) {
    idle_ = true;
    fx_.worker_idle();
  }
}

}  // namespace llmux
