// Scheduler: the pure policy that decides which request is served by the one resident worker, which waits, and
// when the worker is started, swapped or stopped. It owns no sockets, timers or processes: it is driven by events
// (submit, finished, worker_ready, ...) and acts only through SchedulerEffects, synchronously. Single-threaded;
// never throws on well-formed event sequences (events for unknown request ids are ignored).
//
// Policy (issue "llmux serve"): one resident worker; requests for it are granted at once; a request for another
// model waits in a FIFO queue; once one waits, new requests for the resident model queue too (a waiting swap
// cannot be starved), the resident drains, stops, and the model of the oldest queued request is started; when it
// is ready every queued request for it is granted together (grouping). A failed start denies the requests that
// waited for it and moves on to the next queued model.
#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <unordered_map>

namespace llmux {

using RequestId = uint64_t;

enum class WorkerPhase { none, starting, ready, stopping };
const char* to_string(WorkerPhase p);

enum class StopReason { swap, ttl, unload, shutdown, reload };
const char* to_string(StopReason r);

class SchedulerEffects {
 public:
  virtual ~SchedulerEffects() = default;
  virtual void start_worker(const std::string& model) = 0;
  virtual void stop_worker(StopReason why) = 0;      // called only once the worker has nothing in flight
  virtual void grant(RequestId id) = 0;              // the request may now go to the resident worker
  virtual void deny(RequestId id, const std::string& model) = 0;  // its model failed to start (or shutdown)
  virtual void worker_idle() = 0;                    // ready, nothing in flight, nothing queued: arm the TTL
  virtual void worker_busy() = 0;                    // no longer idle: disarm the TTL
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerEffects& fx) : fx_(fx) {}

  void submit(RequestId id, const std::string& model);
  void cancel(RequestId id);    // a queued request gave up (client gone, timeout); no-op once granted
  void finished(RequestId id);  // a granted request completed (any outcome)

  void worker_ready();
  void worker_start_failed();
  void worker_stopped();        // the process is gone: stopped by us or exited on its own
  void idle_expired();          // the TTL timer fired
  // Stop the resident (or starting) worker once drained: unload, or its definition changed (reload).
  void retire(StopReason why = StopReason::unload);
  void shutdown();              // deny all queued, refuse new, stop the worker once drained

  WorkerPhase phase() const { return phase_; }
  const std::string& model() const { return model_; }  // resident/starting/stopping model; "" when none
  size_t in_flight() const { return active_.size(); }
  size_t queued() const { return queue_.size(); }
  bool shutting_down() const { return shutdown_; }
  bool idle() const { return idle_; }

 private:
  struct Waiting {
    RequestId id;
    std::string model;
  };
  bool other_model_waiting() const;
  void grant_now(RequestId id);
  void grant_queued_for_resident();
  void deny_queued_for(const std::string& model);
  void stop(StopReason why);
  void pump();

  SchedulerEffects& fx_;
  WorkerPhase phase_ = WorkerPhase::none;
  std::string model_;
  std::deque<Waiting> queue_;
  std::set<RequestId> active_;    // granted to the current worker and not finished
  std::set<RequestId> orphans_;   // granted to a worker that has since exited
  bool idle_ = false;
  bool retire_ = false;
  bool shutdown_ = false;
  StopReason stop_reason_ = StopReason::swap;
};

}  // namespace llmux
