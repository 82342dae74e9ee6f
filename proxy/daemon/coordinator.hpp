// Coordinator: the glue between client sessions, the Scheduler (pure policy) and the Supervisor (the engine
// process). Sessions call acquire() to wait for their model's worker and release() when done; the Coordinator
// turns scheduler effects into supervisor calls and wake-ups, and supervisor events into scheduler events.
// Single executor; no locks. acquire() never throws for expected outcomes (denied, abandoned): see Admission.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/config.hpp"
#include "common/errors.hpp"
#include "common/net.hpp"
#include "common/redact.hpp"
#include "proxy/daemon/daemon_info.hpp"
#include "proxy/daemon/lazy_timer.hpp"
#include "proxy/daemon/memory_governor.hpp"
#include "proxy/policy/eviction.hpp"
#include "proxy/policy/metrics.hpp"
#include "proxy/policy/concurrency_limit.hpp"
#include "proxy/policy/scheduler.hpp"
#include "proxy/policy/snapshot.hpp"
#include "worker/supervisor.hpp"

namespace llmux {

// Where a granted request goes: one per worker spawn, shared by its leases (a lease costs no string copies).
struct WorkerAddress {
  std::string model;
  EngineEndpoint endpoint;
  uint64_t generation = 0;  // worker spawn generation: pooled engine connections are valid only within it
};

struct Lease {
  RequestId id = 0;
  std::shared_ptr<const WorkerAddress> worker;  // never null in a granted Admission
};

struct Admission {
  std::optional<Lease> lease;  // set when granted
  ApiError error;              // otherwise, unless abandoned
  bool abandoned = false;      // the client went away while waiting
  Duration queue_wait{0};      // waiting behind other work (drain, other models)
  Duration load_wait{0};       // waiting for this model's engine to start
};

// Facts about the worker's recent life for /status and /metrics.
struct WorkerHistory {
  std::optional<SchedClock::time_point> idle_since;   // ready with nothing in flight since then
  std::optional<SchedClock::time_point> ttl_expires;  // when the idle TTL unloads it
  std::optional<double> last_load_seconds;            // spawn → ready of the last successful start
  std::optional<double> last_swap_seconds;            // swap decided → next model ready
  std::string last_stop_reason;
};

// A request waiting for its worker. abandon() (client gone) removes it from the queue and wakes the waiter.
class Ticket {
 public:
  explicit Ticket(net::io_context& io) : wake_(io) { wake_.expires_at(net::steady_timer::time_point::max()); }
  RequestId id = 0;
  std::string model;
  enum class State { waiting, granted, denied, abandoned } state = State::waiting;
  ApiError error;

 private:
  friend class Coordinator;
  net::steady_timer wake_;
  SchedClock::time_point enqueued_{};
  bool was_ready_ = false;  // its model was resident and ready when it was submitted
};

struct StartRecord {
  std::string model;
  StartFailure failure;
  std::chrono::system_clock::time_point at;
};

class Coordinator final : private SchedulerEffects, private EvictionEffects {
 public:
  // `secrets` (shared with the log sinks) gets every served config's secrets; the supervisor redacts with them.
  Coordinator(net::io_context& io, ChildReaper& reaper, std::shared_ptr<const Config> config,
              std::shared_ptr<Secrets> secrets = std::make_shared<Secrets>());

  std::shared_ptr<Ticket> make_ticket(const ModelConfig& model);
  net::awaitable<Admission> acquire(std::shared_ptr<Ticket> ticket);
  // acquire() in two steps, for callers that do extra work only when a request must wait: begin_acquire()
  // submits and returns the Admission when it was decided at once (granted or refused), else nullopt; then
  // finish_acquire() waits for the decision.
  std::optional<Admission> begin_acquire(const std::shared_ptr<Ticket>& ticket);
  // The fast door, tried before a ticket is made: a lease at once when `model` is resident and ready with room
  // and nothing waits; else nullopt (and nothing happened).
  std::optional<Lease> try_grant(const std::string& model);
  net::awaitable<Admission> finish_acquire(std::shared_ptr<Ticket> ticket);
  void abandon(Ticket& ticket);
  void release(const Lease& lease);

  // Unload the resident worker after it drains; completes when it has stopped (or at once if none).
  net::awaitable<void> unload();
  // Loads a model as a request would (queued, swapped in after the resident drains) and returns once it is
  // ready; nullopt on success, else the error a request would have got.
  net::awaitable<std::optional<ApiError>> load(const ModelConfig& model);
  // Stops the resident worker now (force) or after it drains; completes when it has stopped.
  net::awaitable<void> unload(bool force);
  // Refuse new requests, deny queued ones; the worker stops once drained.
  void begin_shutdown();
  // Stop the worker now (in-flight requests are cut); completes when the process group is gone.
  net::awaitable<void> stop_worker_now();

  // Switches to a new config for every request from now on. The resident worker keeps serving unless its model was
  // removed or its engine definition changed: then it is retired (stopped once its in-flight requests finish) and
  // the next request starts the new definition. Idle TTL re-arms with the new value.
  void apply_config(std::shared_ptr<const Config> next);

  // The daemon's state as plain values, for the admin answers; its worker part, for loading feedback. Built in
  // proxy/daemon/snapshot.cpp: nothing else reads the supervisor, the scheduler or the memory governor.
  DaemonSnapshot snapshot(const DaemonInfo& d) const;
  WorkerSnapshot worker_snapshot() const;
  size_t in_flight() const { return scheduler_.in_flight(); }  // requests being served now
  // What-if (GET /fit, `llmux fit`): the model's footprint with engine flags appended, and the memory free now.
  Footprint footprint(const ModelConfig& m, const std::vector<std::string>& extra_args) const {
    return memory_.footprint_with(m, extra_args);
  }
  MemoryNow memory_now() const { return memory_.now(); }
  // llama-swap's concurrencyLimit: the 429 for a request to a ready model already at its limit (nullopt: go on).
  std::optional<ApiError> over_concurrency_limit(const ModelConfig& m) const { return concurrency_refusal(scheduler_, m); }

  // Records every engine it spawns in `ledger` (the state file; it outlives the coordinator).
  void record_engines_in(EngineLedger& ledger) { supervisor_.record_in(&ledger); }
  const std::shared_ptr<const Config>& config() const { return config_; }
  Metrics& metrics() { return metrics_; }
  const Metrics& metrics() const { return metrics_; }
  // Is `model` resident and ready (a request for it would be granted without waiting for a load)?
  bool ready_for(const std::string& model) const {
    return supervisor_.state() == WorkerState::ready && supervisor_.info().model == model;
  }

 private:
  void start_worker(const std::string& model) override;
  void stop_worker(const std::string& model, StopReason why) override;
  void grant(RequestId id) override;
  void deny(RequestId id, const std::string& model, DenyReason why) override;
  void worker_idle(const std::string& model) override;
  void worker_busy(const std::string& model) override;
  void wake_at(SchedClock::time_point t) override;
  SchedulerOptions scheduler_options() const;

  void on_started(const std::string& model, const StartFailure* failure);
  net::awaitable<void> admit_and_start(std::string model);
  void on_pressure(Pressure level);
  void on_over_ceiling(const std::string& model);
  void evict(StopReason why) override;
  void restart(const std::string& model) override;
  void arm_ttl();
  void on_stopped();
  std::shared_ptr<net::steady_timer> add_stop_waiter();
  void wake_stop_waiters();
  ApiError start_error(const std::string& model) const;
  Admission admission(Ticket& t);
  const std::shared_ptr<const WorkerAddress>& worker_address();

  void use_secrets_of(const Config& config);

  net::io_context& io_;
  std::shared_ptr<const Config> config_;
  std::shared_ptr<Secrets> secrets_;
  Supervisor supervisor_;
  Scheduler scheduler_;
  std::unordered_map<RequestId, std::shared_ptr<Ticket>> tickets_;
  std::shared_ptr<const WorkerAddress> address_;  // of the worker's current spawn (made on first grant)
  RequestId next_id_ = 1;
  LazyTimer ttl_timer_;  // the idle TTL: moved on every request, fires rarely
  net::steady_timer wake_timer_;

  std::vector<std::shared_ptr<net::steady_timer>> stop_waiters_;
  std::optional<StartRecord> last_failure_;
  MemoryGovernor memory_;
  EvictionPolicy eviction_;  // what pressure and ceilings evict, and the one restart after a ceiling
  Metrics metrics_;
  WorkerHistory history_;
  std::string loading_model_;                   // the model whose start was last requested
  SchedClock::time_point load_requested_at_{};  // and when
  std::optional<SchedClock::time_point> swap_started_at_;
};

}  // namespace llmux
