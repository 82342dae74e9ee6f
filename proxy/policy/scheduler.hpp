// Scheduler: the pure policy that decides which request is served by the one resident worker, which waits, and
// when the worker is started, swapped or stopped. It owns no sockets, timers or processes: it is driven by events
// (submit, finished, worker_ready, ...) and acts only through SchedulerEffects, synchronously. Time comes from an
// injected clock (tests use a fake one). Single-threaded; events for unknown request ids are ignored.
//
// Policy: one resident worker. Requests for it are granted at once up to its maxConcurrency. A request for another
// model waits in a queue (bounded per model: beyond queue.max it is denied). Once one waits, new requests for the
// resident model queue too (a waiting swap cannot be starved), except during the resident's minResidency window
// right after it loaded (anti-thrash: a fresh model serves its burst first); an idle resident is held in that
// window for at most a quarter of it after its last request, then the swap goes ahead. When the resident has drained it is
// stopped and the next model is started: the one a request has waited maxSwapsWaited swaps for, else the highest
// priority, else the oldest waiting request's. When it is ready every request queued for it is granted together
// (grouping). A failed start denies the requests that waited for it and moves on.
// `naive_fifo` (for benchmarks only) turns grouping and anti-thrash off: strict arrival order.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <vector>
#include <string>

namespace llmux {

using RequestId = uint64_t;
using SchedClock = std::chrono::steady_clock;

enum class WorkerPhase { none, starting, ready, stopping };
const char* to_string(WorkerPhase p);

enum class StopReason { swap, ttl, unload, shutdown, reload, ceiling, pressure };
const char* to_string(StopReason r);

enum class DenyReason { start_failed, shutdown, queue_full };

struct ModelPolicy {
  size_t max_concurrency = 0;  // 0 = unlimited
  size_t queue_max = 64;
  int priority = 0;
  std::chrono::milliseconds min_residency{0};
};

class SchedulerEffects {
 public:
  virtual ~SchedulerEffects() = default;
  virtual void start_worker(const std::string& model) = 0;
  virtual void stop_worker(StopReason why) = 0;      // called only once the worker has nothing in flight
  virtual void grant(RequestId id) = 0;              // the request may now go to the resident worker
  virtual void deny(RequestId id, const std::string& model, DenyReason why) = 0;
  virtual void worker_idle() = 0;                    // ready, nothing in flight, nothing queued: arm the TTL
  virtual void worker_busy() = 0;                    // no longer idle: disarm the TTL
  virtual void wake_at(SchedClock::time_point) {}    // call Scheduler::tick() then (minResidency ends)
};

struct SchedulerOptions {
  std::function<ModelPolicy(const std::string&)> policy;  // per-model limits; default-constructed when empty
  int max_swaps_waited = 3;
  std::function<SchedClock::time_point()> now;            // default: steady_clock::now
  bool naive_fifo = false;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerEffects& fx, SchedulerOptions opts = {});

  void submit(RequestId id, const std::string& model);
  // The fast door for the common case: the model is resident and ready with room and nothing waits at all. Then
  // the request is granted (no grant() effect: the caller holds the answer) and true returned; else nothing
  // happened (submit() decides).
  bool try_grant(RequestId id, const std::string& model);
  void cancel(RequestId id);    // a queued request gave up (client gone, timeout); no-op once granted
  void finished(RequestId id);  // a granted request completed (any outcome)

  void worker_ready();
  void worker_start_failed();
  void worker_stopped();        // the process is gone: stopped by us or exited on its own
  void idle_expired();          // the TTL timer fired
  void tick();                  // a wake_at() time was reached
  // Stop the resident (or starting) worker once drained: unload, definition changed, ceiling, pressure.
  void retire(StopReason why = StopReason::unload);
  void shutdown();              // deny all queued, refuse new, stop the worker once drained
  void preload(const std::string& model);  // start a model with no request waiting (when nothing runs)
  void set_options(SchedulerOptions opts);  // config reload: new limits apply from the next decision

  WorkerPhase phase() const { return phase_; }
  const std::string& model() const { return model_; }  // resident/starting/stopping model; "" when none
  size_t in_flight() const { return active_.size(); }
  size_t queued() const { return queue_.size(); }
  size_t queued_for(const std::string& model) const;
  bool shutting_down() const { return shutdown_; }
  bool idle() const { return idle_; }
  uint64_t swaps() const { return swaps_; }  // workers started since construction

 private:
  struct Waiting {
    RequestId id;
    std::string model;
    int swaps_seen = 0;  // workers started for other models while this one waited
  };
  ModelPolicy policy(const std::string& model) const;
  void admit(RequestId id);
  bool other_model_waiting() const;
  bool in_min_residency() const;
  SchedClock::time_point hold_until() const;
  bool has_capacity() const;
  bool may_grant_resident() const;
  void grant_now(RequestId id);
  void grant_queued_for_resident();
  void deny_queued_for(const std::string& model);
  std::string next_model() const;
  void start(const std::string& model);
  void stop(StopReason why);
  void pump();
  void pump_ready();

  SchedulerEffects& fx_;
  SchedulerOptions opts_;
  WorkerPhase phase_ = WorkerPhase::none;
  std::string model_;
  ModelPolicy resident_policy_;   // policy(model_), looked up when model_ or the options change
  std::deque<Waiting> queue_;
  std::vector<RequestId> active_;   // granted to the current worker and not finished (unordered: a handful)
  std::vector<RequestId> orphans_;  // granted to a worker that has since exited
  SchedClock::time_point ready_at_{};
  SchedClock::time_point last_finish_{};
  bool idle_ = false;
  bool retire_ = false;
  bool shutdown_ = false;
  bool wake_pending_ = false;
  StopReason stop_reason_ = StopReason::swap;
  uint64_t swaps_ = 0;
};

}  // namespace llmux
