#include "proxy/scheduler.hpp"

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
  }
  return "?";
}

void Scheduler::submit(RequestId id, const std::string& model) {
  if (shutdown_) {
    fx_.deny(id, model);
    return;
  }
  bool resident = phase_ == WorkerPhase::ready && model == model_;
  if (resident && !retire_ && !other_model_waiting()) {
    grant_now(id);
    return;
  }
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
  if (orphans_.erase(id) > 0) return;
  if (active_.erase(id) == 0) return;
  pump();
}

void Scheduler::worker_ready() {
  if (phase_ != WorkerPhase::starting) return;
  phase_ = WorkerPhase::ready;
  grant_queued_for_resident();
  pump();
}

void Scheduler::worker_start_failed() {
  if (phase_ != WorkerPhase::starting) return;
  std::string failed = model_;
  phase_ = WorkerPhase::none;
  model_.clear();
  deny_queued_for(failed);
  pump();
}

void Scheduler::worker_stopped() {
  if (phase_ == WorkerPhase::none) return;
  phase_ = WorkerPhase::none;
  model_.clear();
  retire_ = false;
  idle_ = false;
  orphans_.insert(active_.begin(), active_.end());
  active_.clear();
  pump();
}

void Scheduler::idle_expired() {
  if (phase_ == WorkerPhase::ready && active_.empty() && queue_.empty()) stop(StopReason::ttl);
}

void Scheduler::retire(StopReason why) {
  if (phase_ != WorkerPhase::ready && phase_ != WorkerPhase::starting) return;
  retire_ = true;
  stop_reason_ = why;
  pump();
}

void Scheduler::shutdown() {
  shutdown_ = true;
  std::deque<Waiting> denied;
  denied.swap(queue_);
  for (const auto& w : denied) fx_.deny(w.id, w.model);
  stop_reason_ = StopReason::shutdown;
  retire_ = phase_ == WorkerPhase::ready || phase_ == WorkerPhase::starting;
  pump();
}

bool Scheduler::other_model_waiting() const {
  return std::any_of(queue_.begin(), queue_.end(), [this](const Waiting& w) { return w.model != model_; });
}

void Scheduler::grant_now(RequestId id) {
  active_.insert(id);
  if (idle_) {
    idle_ = false;
    fx_.worker_busy();
  }
  fx_.grant(id);
}

// Grouping: when a model becomes ready, every request queued for it goes together, in arrival order.
void Scheduler::grant_queued_for_resident() {
  std::deque<Waiting> rest;
  std::deque<RequestId> granted;
  for (auto& w : queue_) {
    if (w.model == model_) granted.push_back(w.id);
    else rest.push_back(std::move(w));
  }
  queue_.swap(rest);
  for (RequestId id : granted) grant_now(id);
}

void Scheduler::deny_queued_for(const std::string& model) {
  std::deque<Waiting> rest, denied;
  for (auto& w : queue_) (w.model == model ? denied : rest).push_back(std::move(w));
  queue_.swap(rest);
  for (const auto& w : denied) fx_.deny(w.id, w.model);
}

void Scheduler::stop(StopReason why) {
  phase_ = WorkerPhase::stopping;
  if (idle_) {
    idle_ = false;
    fx_.worker_busy();
  }
  fx_.stop_worker(why);
}

// Re-evaluates the state after any event. Effects may re-enter only through later events, never recursively:
// every effect call is the last thing a branch does or is followed only by local bookkeeping.
void Scheduler::pump() {
  switch (phase_) {
    case WorkerPhase::none:
      if (!queue_.empty() && !shutdown_) {
        phase_ = WorkerPhase::starting;
        model_ = queue_.front().model;
        fx_.start_worker(model_);
      }
      return;
    case WorkerPhase::starting:
    case WorkerPhase::stopping:
      return;
    case WorkerPhase::ready:
      break;
  }
  if (!active_.empty()) return;
  if (retire_ || other_model_waiting()) {
    StopReason why = retire_ ? stop_reason_ : StopReason::swap;
    retire_ = false;
    stop(why);
    return;
  }
  if (!queue_.empty()) {  // only requests for the resident model are queued: a retire just got cancelled
    grant_queued_for_resident();
    return;
  }
  if (!idle_) {
    idle_ = true;
    fx_.worker_idle();
  }
}

}  // namespace llmux
