// Coordinator: the glue between client sessions, the Scheduler (pure policy) and one Supervisor per resident worker
// (the engine processes). Sessions call acquire() to wait for their model's worker and release() when done; the
// Coordinator turns scheduler effects into supervisor calls and wake-ups, and supervisor events into scheduler
// events. Co-residency: up to maxResident workers at once while their memory fits memory.budget (MemoryGovernor::
// fits_beside) and llama-swap's groups allow it (proxy/policy/residency_rules); each has its own idle TTL, memory
// meter and history. Single executor; no locks. acquire() never throws for expected outcomes: see Admission.
#pragma once

#include <chrono>
#include <map>
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
#include "proxy/policy/residency_rules.hpp"
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

// The daemon's recent history for /status and /metrics (every worker's).
struct WorkerHistory {
  std::optional<double> last_load_seconds;  // spawn → ready of the last successful start
  std::optional<double> last_swap_seconds;  // swap decided → next model ready
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

  // Unloads every resident worker after it drains; completes when they have stopped (or at once if none).
  net::awaitable<void> unload();
  // Loads a model as a request would (queued, started beside the residents or after an eviction) and returns once
  // it is ready; nullopt on success, else the error a request would have got.
  net::awaitable<std::optional<ApiError>> load(const ModelConfig& model);
  // Stops `model`'s worker ("" = every worker) now (force: in-flight requests are cut) or after it drains;
  // completes when it has stopped.
  net::awaitable<void> unload(const std::string& model, bool force);
  // Refuse new requests, deny queued ones; the workers stop once drained.
  void begin_shutdown();
  // Stop every worker now (in-flight requests are cut); completes when their process groups are gone.
  net::awaitable<void> stop_worker_now();
  // Starts the config's `preload` models that fit without evicting anything (at startup and for models a reload
  // adds to the list).
  void preload();

  // Switches to a new config for every request from now on. Each resident worker keeps serving unless its model
  // was removed or its engine definition changed: then it is retired (stopped once its in-flight requests finish)
  // and the next request starts the new definition. Idle TTLs re-arm with the new values.
  void apply_config(std::shared_ptr<const Config> next);

  // The daemon's state as plain values, for the admin answers; its worker part, for loading feedback. Built in
  // proxy/daemon/snapshot.cpp: nothing else reads the supervisor, the scheduler or the memory governor.
  DaemonSnapshot snapshot(const DaemonInfo& d) const;
  WorkerSnapshot worker_snapshot(const std::string& model) const;  // state none when it has no worker
  size_t in_flight() const { return scheduler_.in_flight(); }  // requests being served now
  // What-if (GET /fit, `llmux fit`): the model's footprint with engine flags appended, and the memory free now.
  Footprint footprint(const ModelConfig& m, const std::vector<std::string>& extra_args) const {
    return memory_.footprint_with(m, extra_args);
  }
  MemoryNow memory_now() const { return memory_.now(); }
  // llama-swap's concurrencyLimit: the 429 for a request to a ready model already at its limit (nullopt: go on).
  std::optional<ApiError> over_concurrency_limit(const ModelConfig& m) const { return concurrency_refusal(scheduler_, m); }

  // Records every engine it spawns in `ledger` (the state file; it outlives the coordinator).
  void record_engines_in(EngineLedger& ledger);
  const std::shared_ptr<const Config>& config() const { return config_; }
  Metrics& metrics() { return metrics_; }
  const Metrics& metrics() const { return metrics_; }
  // Is `model` resident and ready (a request for it would be granted without waiting for a load)?
  bool ready_for(const std::string& model) const;
  // The models whose engine process runs now (starting, ready or stopping), in start order.
  std::vector<std::string> resident_models() const;

 private:
  // One model's worker: its engine process and recent life. Made at the model's first start and kept for later
  // starts of the same model (its supervisor's and TTL's handlers may still be due after a stop).
  struct Resident {
    Resident(net::io_context& io, ChildReaper& reaper, std::function<void()> on_ttl)
        : supervisor(io, reaper), ttl(io.get_executor(), std::move(on_ttl)) {}
    Supervisor supervisor;
    LazyTimer ttl;  // the idle TTL: moved on every request, fires rarely
    std::optional<SchedClock::time_point> idle_since;   // ready with nothing in flight since then
    std::optional<SchedClock::time_point> ttl_expires;  // when the idle TTL unloads it
    std::shared_ptr<const WorkerAddress> address;       // of its current spawn (made on first grant)
    uint64_t address_of = 0;                            // the supervisor generation `address` is for
    SchedClock::time_point load_requested_at{};         // when its last start was decided
    std::optional<StopReason> stopping_for;             // why its worker is being stopped (by the scheduler)
  };

  void start_worker(const std::string& model) override;
  void stop_worker(const std::string& model, StopReason why) override;
  void grant(RequestId id) override;
  void deny(RequestId id, const std::string& model, DenyReason why) override;
  void worker_idle(const std::string& model) override;
  void worker_busy(const std::string& model) override;
  void wake_at(SchedClock::time_point t) override;
  SchedulerOptions scheduler_options() const;
  bool fits_beside(const std::string& model, const std::vector<std::string>& staying) const;

  Resident& resident(const std::string& model);  // made on first use
  Resident* find_resident(const std::string& model);
  const Resident* find_resident(const std::string& model) const;
  void on_started(const std::string& model, const StartFailure* failure);
  net::awaitable<void> admit_and_start(std::string model);
  void on_pressure(Pressure level);
  void on_over_ceiling(const std::string& model);
  void evict(const std::string& model, StopReason why) override;
  void restart(const std::string& model) override;
  void arm_ttl(const std::string& model);
  void on_gone(const std::string& model);
  void on_stopped(const std::string& model);
  void return_to_default(const std::string& stopped);
  bool running(const std::vector<std::pair<std::string, uint64_t>>& spawns) const;
  std::vector<std::pair<std::string, uint64_t>> spawns(const std::string& model) const;
  net::awaitable<void> wait_gone(std::vector<std::pair<std::string, uint64_t>> spawns);
  std::shared_ptr<net::steady_timer> add_stop_waiter();
  void wake_stop_waiters();
  ApiError start_error(const std::string& model) const;
  ApiError no_room_error(const std::string& model) const;
  Admission admission(Ticket& t);
  const std::shared_ptr<const WorkerAddress>& worker_address(const std::string& model);

  void use_secrets_of(const Config& config);

  net::io_context& io_;
  ChildReaper& reaper_;
  std::shared_ptr<const Config> config_;
  ResidencyRules rules_;  // llama-swap groups: who may be resident together
  std::shared_ptr<Secrets> secrets_;
  EngineLedger* ledger_ = nullptr;
  std::map<std::string, std::unique_ptr<Resident>> residents_;  // by model
  Scheduler scheduler_;
  std::unordered_map<RequestId, std::shared_ptr<Ticket>> tickets_;
  RequestId next_id_ = 1;
  uint64_t next_generation_ = 0;  // of WorkerAddress: unique over every worker's spawns
  net::steady_timer wake_timer_;

  std::vector<std::shared_ptr<net::steady_timer>> stop_waiters_;
  std::optional<StartRecord> last_failure_;
  MemoryGovernor memory_;
  EvictionPolicy eviction_;  // what pressure and ceilings evict, and the one restart after a ceiling
  Metrics metrics_;
  WorkerHistory history_;
  std::optional<SchedClock::time_point> swap_started_at_;
};

}  // namespace llmux
