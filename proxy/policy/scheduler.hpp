// Scheduler: the pure policy that decides which request is served by which resident worker, which waits, and when
// workers are started, evicted or stopped. It owns no sockets, timers or processes: it is driven by events
// (submit, finished, worker_ready, ...) and acts only through SchedulerEffects, synchronously. Time comes from an
// injected clock (tests use a fake one). Single-threaded; events for unknown request ids or models are ignored.
// One worker per model at most; workers are named by their model.
//
// Residency: at most `max_resident` workers at once (0: as many as `fits` admits), and a model starts beside the
// residents only when `fits(model, staying)` says its memory fits with them. With the default (max_resident 1,
// no fits) exactly one worker is resident: a swap stops it before the next starts.
//
// Policy. Requests for a ready worker are granted at once up to its maxConcurrency. A request for a model without a
// worker waits in a queue (bounded per model: beyond queue.max it is denied). Among waiting models the next to
// start is the one a request has waited maxSwapsWaited starts for, else the highest priority, else the oldest
// request's. It starts at once when it fits beside the residents; otherwise residents are chosen for eviction,
// least recently used first, idle ones (nothing in flight, nothing queued) before busy ones, never a pinned one:
// an idle victim is stopped at once, a busy one drains first (new requests for it queue, so a waiting model cannot
// be starved) — except during a victim's minResidency window right after it loaded (anti-thrash: a fresh model
// serves its burst first); an idle victim is held in that window for at most a quarter of it after its last
// request. A victim whose own queued requests come first (oldest, priority or starvation bound) serves them
// instead of being stopped and reloaded. When a worker is ready every request queued for it is granted together
// (grouping). A failed start denies the requests that waited for it and moves on. A model that cannot fit even
// with every evictable worker gone (pinned ones fill the room) is denied with `no_room`.
// `naive_fifo` (for benchmarks only, one resident) turns grouping and anti-thrash off: strict arrival order.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace llmux {

using RequestId = uint64_t;
using SchedClock = std::chrono::steady_clock;

enum class WorkerPhase { none, starting, ready, stopping };
const char* to_string(WorkerPhase p);

enum class StopReason { swap, ttl, unload, shutdown, reload, ceiling, pressure };
const char* to_string(StopReason r);

enum class DenyReason { start_failed, shutdown, queue_full, no_room };

struct ModelPolicy {
  size_t max_concurrency = 0;  // 0 = unlimited
  size_t queue_max = 64;
  int priority = 0;
  std::chrono::milliseconds min_residency{0};
  bool pinned = false;  // never evicted for another model, never stopped by the idle TTL
};

class SchedulerEffects {
 public:
  virtual ~SchedulerEffects() = default;
  virtual void start_worker(const std::string& model) = 0;
  // Called only once the worker has nothing in flight.
  virtual void stop_worker(const std::string& model, StopReason why) = 0;
  virtual void grant(RequestId id) = 0;  // the request may now go to its model's worker
  virtual void deny(RequestId id, const std::string& model, DenyReason why) = 0;
  virtual void worker_idle(const std::string& model) = 0;  // ready, nothing in flight or queued: arm its TTL
  virtual void worker_busy(const std::string& model) = 0;  // no longer idle: disarm its TTL
  virtual void wake_at(SchedClock::time_point) {}          // call Scheduler::tick() then (a minResidency hold ends)
};

struct SchedulerOptions {
  std::function<ModelPolicy(const std::string&)> policy;  // per-model limits; default-constructed when empty
  int max_swaps_waited = 3;
  std::function<SchedClock::time_point()> now;            // default: steady_clock::now
  bool naive_fifo = false;
  size_t max_resident = 1;  // 0: bounded by `fits` alone
  // Does `model` fit beside the workers of `staying` (starting, ready or still stopping)? Empty: always.
  std::function<bool(const std::string& model, const std::vector<std::string>& staying)> fits;
};

// One worker as the scheduler sees it.
struct WorkerView {
  std::string model;
  WorkerPhase phase = WorkerPhase::none;
  size_t in_flight = 0;
  size_t queued = 0;
  bool idle = false;
  bool pinned = false;
  SchedClock::time_point last_used{};  // last grant or finish (the LRU key)
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerEffects& fx, SchedulerOptions opts = {});

  void submit(RequestId id, const std::string& model);
  // The fast door for the common case: the model's worker is ready with room and nothing waits at all. Then the
  // request is granted (no grant() effect: the caller holds the answer) and true returned; else nothing happened
  // (submit() decides).
  bool try_grant(RequestId id, const std::string& model);
  void cancel(RequestId id);    // a queued request gave up (client gone, timeout); no-op once granted
  void finished(RequestId id);  // a granted request completed (any outcome)

  void worker_ready(const std::string& model);
  void worker_start_failed(const std::string& model);
  void worker_stopped(const std::string& model);  // the process is gone: stopped by us or exited on its own
  void idle_expired(const std::string& model);    // its TTL timer fired
  void tick();                                    // a wake_at() time was reached
  // Stop a worker (or every worker) once drained: unload, definition changed, ceiling, pressure. Pins do not
  // protect from retire.
  void retire(const std::string& model, StopReason why);
  void retire_all(StopReason why = StopReason::unload);
  void shutdown();  // deny all queued, refuse new, stop every worker once drained
  // Start a model with no request waiting, when it fits beside the residents without evicting any.
  void preload(const std::string& model);
  void set_options(SchedulerOptions opts);  // config reload: new limits apply from the next decision

  std::vector<WorkerView> workers() const;  // in start order
  WorkerPhase phase(const std::string& model) const;  // none when it has no worker
  // The first worker's (in start order): with one resident, the resident's. "" / none when there is none.
  WorkerPhase phase() const { return workers_.empty() ? WorkerPhase::none : workers_.front().phase; }
  const std::string& model() const;
  size_t in_flight() const;  // over every worker
  size_t queued() const { return queue_.size(); }
  size_t queued_for(const std::string& model) const;
  size_t resident() const { return workers_.size(); }  // starting, ready or stopping
  bool shutting_down() const { return shutdown_; }
  bool idle(const std::string& model) const;
  uint64_t swaps() const { return swaps_; }  // workers started since construction

 private:
  struct Worker {
    std::string model;
    WorkerPhase phase = WorkerPhase::starting;
    ModelPolicy policy;
    std::vector<RequestId> active;  // granted and not finished (unordered: a handful)
    SchedClock::time_point ready_at{};
    SchedClock::time_point last_finish{};
    SchedClock::time_point last_used{};
    bool idle = false;
    bool retire = false;
    StopReason stop_reason = StopReason::swap;
  };
  struct Waiting {
    RequestId id;
    std::string model;
    int swaps_seen = 0;  // workers started for other models while this one waited
  };
  // What the queue asks for now: the next model to start and the residents that must go first.
  struct Plan {
    std::string candidate;             // "" when no waiting model lacks a worker
    std::vector<std::string> victims;  // empty with a candidate: it fits now (unless `blocked`)
    bool blocked = false;          // it does not fit yet, and no eviction would make room now
    bool never = false;            // it cannot fit even with every evictable worker gone
  };

  ModelPolicy policy(const std::string& model) const;
  Worker* find(const std::string& model);
  const Worker* find(const std::string& model) const;
  Plan plan() const;
  bool is_victim(const std::string& model) const;
  std::string next_model(bool without_worker) const;
  bool room_for(const std::string& model, const std::vector<const Worker*>& staying) const;
  bool in_min_residency(const Worker& w) const;
  SchedClock::time_point hold_until(const Worker& w) const;
  static bool has_capacity(const Worker& w);
  bool may_grant(const Worker& w, bool victim) const;
  void admit(Worker& w, RequestId id);
  void grant_queued_for(Worker& w);
  void deny_queued_for(const std::string& model, DenyReason why);
  void start(const std::string& model);
  void stop(Worker& w, StopReason why);
  void remove(const std::string& model);
  void request_wake(SchedClock::time_point t);
  void pump();
  void settle(Worker& w, bool victim);

  SchedulerEffects& fx_;
  SchedulerOptions opts_;
  std::vector<Worker> workers_;      // in start order (a handful)
  std::deque<Waiting> queue_;
  std::vector<RequestId> orphans_;   // granted to a worker that has since exited
  bool shutdown_ = false;
  bool wake_pending_ = false;
  SchedClock::time_point wake_at_{};
  uint64_t swaps_ = 0;
};

}  // namespace llmux
