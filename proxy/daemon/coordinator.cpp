#include "proxy/daemon/coordinator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/config_diff.hpp"
#include "common/seconds.hpp"
#include "proxy/policy/footprint_fit.hpp"
#include "worker/process.hpp"

namespace llmux {

namespace {

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

}  // namespace

Coordinator::Coordinator(net::io_context& io, ChildReaper& reaper, std::shared_ptr<const Config> config,
                         std::shared_ptr<Secrets> secrets)
    : io_(io),
      reaper_(reaper),
      config_(std::move(config)),
      rules_(*config_),
      secrets_(std::move(secrets)),
      scheduler_(*this, scheduler_options()),
      wake_timer_(io),
      memory_(
          io, [this](Pressure p) { on_pressure(p); },
          [this](const std::string& model, uint64_t, uint64_t) { on_over_ceiling(model); }),
      eviction_(*this) {
  memory_.configure(*config_);
  eviction_.configure(config_->memory);
  use_secrets_of(*config_);
}

Coordinator::Resident& Coordinator::resident(const std::string& model) {
  auto& slot = residents_[model];
  if (slot) return *slot;
  slot = std::make_unique<Resident>(io_, reaper_, [this, model] {
    spdlog::info("[{}] idle for its ttl", model);
    scheduler_.idle_expired(model);
  });
  Supervisor& sup = slot->supervisor;
  sup.set_redactor(secrets_->redactor());
  if (ledger_ != nullptr) sup.record_in(ledger_);
  sup.on_unexpected_exit([this](const std::string& m, int) { on_gone(m); });
  sup.on_line([](const std::string& m, std::string_view line) {
    auto engine = spdlog::get("engine");  // serve() sets it up; tests of the coordinator alone may not
    (engine ? engine : spdlog::default_logger())->info("[{}] {}", m, line);
  });
  return *slot;
}

Coordinator::Resident* Coordinator::find_resident(const std::string& model) {
  auto it = residents_.find(model);
  return it == residents_.end() ? nullptr : it->second.get();
}

const Coordinator::Resident* Coordinator::find_resident(const std::string& model) const {
  auto it = residents_.find(model);
  return it == residents_.end() ? nullptr : it->second.get();
}

void Coordinator::record_engines_in(EngineLedger& ledger) {
  ledger_ = &ledger;
  for (auto& [model, r] : residents_) r->supervisor.record_in(&ledger);
}

std::vector<std::string> Coordinator::resident_models() const {
  std::vector<std::string> out;
  for (const WorkerView& w : scheduler_.workers()) {
    const Resident* r = find_resident(w.model);
    if (r != nullptr && r->supervisor.state() != WorkerState::stopped) out.push_back(w.model);
  }
  return out;
}

bool Coordinator::ready_for(const std::string& model) const {
  const Resident* r = find_resident(model);
  return r != nullptr && r->supervisor.state() == WorkerState::ready;
}

std::shared_ptr<Ticket> Coordinator::make_ticket(const ModelConfig& model) {
  auto t = std::make_shared<Ticket>(io_);
  t->id = next_id_++;
  t->model = model.id;
  return t;
}

SchedulerOptions Coordinator::scheduler_options() const {
  SchedulerOptions o;
  o.max_swaps_waited = config_->max_swaps_waited;
  o.naive_fifo = config_->naive_fifo;
  o.policy = [this](const std::string& model) {
    ModelPolicy p;
    if (const ModelConfig* m = config_->find_model(model)) {
      p.max_concurrency = static_cast<size_t>(std::max(0, m->max_concurrency));
      p.queue_max = static_cast<size_t>(std::max(0, m->queue.max));
      p.priority = m->priority;
      p.min_residency = m->min_residency;
      p.pinned = m->pinned;
    }
    return p;
  };
  o.max_resident = config_->max_resident;
  o.fits = [this](const std::string& model, const std::vector<std::string>& staying) {
    return fits_beside(model, staying);
  };
  return o;
}

// Co-residency: the memory budget (estimates, or measured figures when larger) and the groups' rules.
bool Coordinator::fits_beside(const std::string& model, const std::vector<std::string>& staying) const {
  if (staying.empty()) return true;  // alone, admission at the spawn decides (and says what is short)
  if (!rules_.may_coreside(model, staying)) return false;
  const ModelConfig* m = config_->find_model(model);
  if (m == nullptr) return true;  // removed from the config while queued: its start fails at once
  return memory_.fits_beside(*m, staying);
}

net::awaitable<Admission> Coordinator::acquire(std::shared_ptr<Ticket> t) {
  if (auto decided = begin_acquire(t)) co_return std::move(*decided);
  co_return co_await finish_acquire(std::move(t));
}

std::optional<Admission> Coordinator::begin_acquire(const std::shared_ptr<Ticket>& t) {
  if (scheduler_.phase(t->model) == WorkerPhase::none) {  // a model that can never fit must not evict others first
    if (const ModelConfig* m = config_->find_model(t->model); m && !memory_.fits_budget(memory_.footprint(*m))) {
      Admission refused;
      refused.error = *memory_.budget_refusal(*m);
      return refused;
    }
  }
  tickets_[t->id] = t;
  t->enqueued_ = SchedClock::now();
  t->was_ready_ = ready_for(t->model);
  scheduler_.submit(t->id, t->model);
  if (t->state == Ticket::State::waiting) return std::nullopt;
  return admission(*t);
}

net::awaitable<Admission> Coordinator::finish_acquire(std::shared_ptr<Ticket> t) {
  if (t->state == Ticket::State::waiting) {
    const ModelConfig* m = config_->find_model(t->model);
    t->wake_.expires_after(m ? m->queue.timeout : Duration(300000));  // queue.timeout bounds the wait
    error_code ec;
    co_await t->wake_.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (!ec && t->state == Ticket::State::waiting) {  // the timer ran out: not woken by an event
      scheduler_.cancel(t->id);
      t->state = Ticket::State::denied;
      t->error = server_error(503, "request for model '" + t->model + "' waited " +
                                       std::to_string((m ? m->queue.timeout : Duration(0)).count() / 1000) +
                                       "s in the queue (queue.timeout) and was dropped; retry later",
                              "queue_timeout");
      t->error.retry_after = 5;
    }
  }
  co_return admission(*t);
}

// The outcome of a decided ticket, with its queue and load waits; the ticket leaves the table.
Admission Coordinator::admission(Ticket& t) {
  tickets_.erase(t.id);
  Admission a;
  const auto done = SchedClock::now();
  const Resident* r = find_resident(t.model);
  if (!t.was_ready_ && r != nullptr && r->load_requested_at != SchedClock::time_point{}) {
    // a load of this model happened (or was joined) meanwhile
    auto load_begin = std::max(t.enqueued_, r->load_requested_at);
    a.queue_wait = std::chrono::duration_cast<Duration>(load_begin - t.enqueued_);
    a.load_wait = std::chrono::duration_cast<Duration>(done - load_begin);
  } else {
    a.queue_wait = std::chrono::duration_cast<Duration>(done - t.enqueued_);
  }
  switch (t.state) {
    case Ticket::State::granted:
      a.lease = Lease{t.id, worker_address(t.model)};
      break;
    case Ticket::State::abandoned:
      a.abandoned = true;
      break;
    case Ticket::State::denied:
    case Ticket::State::waiting:
      a.error = t.error;
      break;
  }
  return a;
}

std::optional<Lease> Coordinator::try_grant(const std::string& model) {
  const RequestId id = next_id_++;
  if (!scheduler_.try_grant(id, model)) return std::nullopt;
  eviction_.served(model);
  return Lease{id, worker_address(model)};
}

// The address leases of `model` carry: made once per spawn; its generation is unique over all workers (pooled
// engine connections are kept per generation).
const std::shared_ptr<const WorkerAddress>& Coordinator::worker_address(const std::string& model) {
  Resident& r = resident(model);
  const WorkerInfo& info = r.supervisor.info();
  if (!r.address || r.address_of != info.generation) {
    r.address = std::make_shared<const WorkerAddress>(WorkerAddress{info.model, info.endpoint, ++next_generation_});
    r.address_of = info.generation;
  }
  return r.address;
}

void Coordinator::abandon(Ticket& t) {
  if (t.state != Ticket::State::waiting) return;
  t.state = Ticket::State::abandoned;
  t.wake_.cancel();
  scheduler_.cancel(t.id);
}

void Coordinator::release(const Lease& lease) { scheduler_.finished(lease.id); }

// The spawns (model, supervisor generation) of `model`'s worker, or of every worker ("").
std::vector<std::pair<std::string, uint64_t>> Coordinator::spawns(const std::string& model) const {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [id, r] : residents_) {
    if (!model.empty() && id != model) continue;
    if (r->supervisor.state() != WorkerState::stopped) out.emplace_back(id, r->supervisor.info().generation);
  }
  return out;
}

// Is any of these spawns still running (a later spawn of the same model is another one)?
bool Coordinator::running(const std::vector<std::pair<std::string, uint64_t>>& spawns) const {
  for (const auto& [model, generation] : spawns) {
    const Resident* r = find_resident(model);
    if (r && r->supervisor.state() != WorkerState::stopped && r->supervisor.info().generation == generation)
      return true;
  }
  return false;
}

net::awaitable<void> Coordinator::wait_gone(std::vector<std::pair<std::string, uint64_t>> spawns) {
  while (running(spawns)) {
    auto waiter = add_stop_waiter();
    error_code ec;
    co_await waiter->async_wait(net::redirect_error(net::use_awaitable, ec));
  }
}

net::awaitable<void> Coordinator::unload() {
  const std::string every;  // GCC 12: no temporaries in a co_await statement
  co_await unload(every, false);
}

net::awaitable<std::optional<ApiError>> Coordinator::load(const ModelConfig& model) {
  auto ticket = make_ticket(model);
  Admission a = co_await acquire(ticket);
  if (!a.lease) co_return a.error;
  release(*a.lease);
  co_return std::nullopt;
}

net::awaitable<void> Coordinator::unload(const std::string& model, bool force) {
  auto gone = spawns(model);
  if (gone.empty()) co_return;
  for (const auto& [id, generation] : gone) {
    if (force) {
      metrics_.eviction("manual", id);
      history_.last_stop_reason = "manual";
      resident(id).supervisor.stop([this, id] { on_stopped(id); });
    } else {
      scheduler_.retire(id, StopReason::unload);
    }
  }
  co_await wait_gone(std::move(gone));
}

void Coordinator::begin_shutdown() { scheduler_.shutdown(); }

net::awaitable<void> Coordinator::stop_worker_now() {
  auto gone = spawns("");
  for (const auto& [id, generation] : gone) resident(id).supervisor.stop([this, id] { on_stopped(id); });
  co_await wait_gone(std::move(gone));
}

void Coordinator::preload() {
  for (const auto& model : config_->preload) {
    if (scheduler_.phase(model) != WorkerPhase::none) continue;
    spdlog::info("[{}] preloading", model);
    scheduler_.preload(model);
  }
}

void Coordinator::apply_config(std::shared_ptr<const Config> next) {
  auto previous = std::exchange(config_, std::move(next));
  rules_ = ResidencyRules(*config_);
  use_secrets_of(*config_);
  scheduler_.set_options(scheduler_options());
  memory_.configure(*config_);
  eviction_.configure(config_->memory);
  for (const WorkerView& w : scheduler_.workers()) {
    const ModelConfig* now = config_->find_model(w.model);
    const ModelConfig* before = previous->find_model(w.model);
    if (now == nullptr) {
      spdlog::info("model {} was removed from the config: unloading it once its requests finish", w.model);
      scheduler_.retire(w.model, StopReason::reload);
    } else if (before != nullptr && needs_engine_restart(*before, *now)) {
      spdlog::info("model {} changed: restarting it once its requests finish", w.model);
      scheduler_.retire(w.model, StopReason::reload);
    } else if (scheduler_.idle(w.model)) {
      arm_ttl(w.model);  // the ttl may have changed
    }
  }
  for (const auto& model : config_->preload) {  // newly listed for preload: started now if they fit
    if (std::find(previous->preload.begin(), previous->preload.end(), model) != previous->preload.end()) continue;
    if (scheduler_.phase(model) == WorkerPhase::none) scheduler_.preload(model);
  }
}

// The previous config's secrets stay: its engine may still be running (and printing them) until it is retired.
void Coordinator::use_secrets_of(const Config& config) {
  secrets_->add(config.secrets);  // the reloader may have added them already (before logging the diff)
  for (auto& [model, r] : residents_) r->supervisor.set_redactor(secrets_->redactor());
}

void Coordinator::start_worker(const std::string& model) {
  const ModelConfig* mc = config_->find_model(model);
  if (mc == nullptr) {  // removed from the config while queued
    StartFailure f{"model '" + model + "' is no longer configured", {}};
    net::post(io_, [this, model, f] { on_started(model, &f); });
    return;
  }
  resident(model).load_requested_at = SchedClock::now();
  net::co_spawn(io_, admit_and_start(model), [](std::exception_ptr e) {
    if (e) spdlog::error("start sequence ended by an exception");
  });
}

// Memory admission (may wait for memory freed by an unload to come back), then the spawn.
net::awaitable<void> Coordinator::admit_and_start(std::string model) {
  const ModelConfig* mc = config_->find_model(model);
  auto refusal = co_await memory_.admit(*mc);
  if (scheduler_.phase(model) != WorkerPhase::starting) co_return;  // shut down meanwhile
  mc = config_->find_model(model);
  if (refusal || mc == nullptr) {
    StartFailure f{refusal ? refusal->message : "model '" + model + "' is no longer configured", {}};
    f.refusal = refusal;
    if (refusal) spdlog::warn("not loading {}: {}", model, refusal->message);
    on_started(model, &f);
    co_return;
  }
  spdlog::info("[{}] loading model", model);
  resident(model).supervisor.start(*mc, config_->timeouts,
                                   [this, model](const StartFailure* f) { on_started(model, f); });
}

// A worker above its memory ceiling: EvictionPolicy retires it (after in-flight requests) and may plan one restart.
void Coordinator::on_over_ceiling(const std::string& model) {
  if (eviction_.over_ceiling(model) == CeilingOutcome::evict_repeated)
    spdlog::warn("[{}] still above its ceiling right after a restart: not restarting it until a request asks",
                 model);
}

void Coordinator::on_pressure(Pressure level) { eviction_.pressure(level, scheduler_.workers()); }

void Coordinator::evict(const std::string& model, StopReason why) {
  if (why == StopReason::pressure)
    spdlog::warn("memory pressure {}: evicting idle model {}", to_string(memory_.last_pressure()), model);
  scheduler_.retire(model, why);
}

void Coordinator::restart(const std::string& model) { scheduler_.preload(model); }

void Coordinator::on_started(const std::string& model, const StartFailure* failure) {
  if (failure == nullptr) {
    const WorkerInfo& info = resident(model).supervisor.info();
    double load = seconds(info.load_time);
    metrics_.load(model, load, true);
    history_.last_load_seconds = load;
    if (swap_started_at_) history_.last_swap_seconds = seconds_between(*swap_started_at_, SchedClock::now());
    swap_started_at_.reset();
    scheduler_.worker_ready(model);  // first: the requests that waited for this load are served even if it is over
                                     // its ceiling from the start (else it would be evicted and reloaded forever)
    if (const ModelConfig* mc = config_->find_model(model))
      memory_.worker_started(model, info.pid, *mc, !scheduler_.idle(model));
    return;
  }
  wake_stop_waiters();  // an unload waiting for this worker has nothing left to wait for
  metrics_.load(model, 0, false);
  swap_started_at_.reset();
  last_failure_ = StartRecord{model, *failure, std::chrono::system_clock::now()};
  scheduler_.worker_start_failed(model);
}

void Coordinator::stop_worker(const std::string& model, StopReason why) {
  spdlog::info("[{}] unloading ({})", model, to_string(why));
  std::string reason = why == StopReason::unload ? "manual" : to_string(why);
  metrics_.eviction(reason, model);
  history_.last_stop_reason = reason;
  if (why == StopReason::swap) swap_started_at_ = SchedClock::now();
  Resident& r = resident(model);
  r.stopping_for = why;
  r.supervisor.stop([this, model] { on_stopped(model); });
}

// The worker's process is gone (stopped by us or on its own): its memory, TTL and scheduler entry go with it.
void Coordinator::on_gone(const std::string& model) {
  memory_.worker_stopped(model);
  if (Resident* r = find_resident(model)) {
    r->idle_since.reset();
    r->ttl_expires.reset();
    r->ttl.clear();
  }
  wake_stop_waiters();
  scheduler_.worker_stopped(model);
}

void Coordinator::on_stopped(const std::string& model) {
  const auto why = std::exchange(resident(model).stopping_for, std::nullopt);
  on_gone(model);
  eviction_.worker_stopped(model);
  if (why == StopReason::ttl) return_to_default(model);
}

// returnToDefault: a model's idle TTL unloaded it; the default model comes back if it is not resident and fits
// without evicting anything (Scheduler::preload), unless requests wait (they decide what loads next).
void Coordinator::return_to_default(const std::string& stopped) {
  if (!config_->return_to_default || scheduler_.shutting_down() || scheduler_.queued() > 0) return;
  const ModelConfig* d = config_->resolve(config_->default_model);
  if (d == nullptr || d->id == stopped || scheduler_.phase(d->id) != WorkerPhase::none) return;
  spdlog::info("[{}] returning to the default model ({} went idle)", d->id, stopped);
  scheduler_.preload(d->id);
}

// An event that wake_stop_waiters() fires once the worker has stopped (or its start failed).
std::shared_ptr<net::steady_timer> Coordinator::add_stop_waiter() {
  auto waiter = std::make_shared<net::steady_timer>(io_, net::steady_timer::time_point::max());
  stop_waiters_.push_back(waiter);
  return waiter;
}

void Coordinator::wake_stop_waiters() {
  for (auto& w : std::exchange(stop_waiters_, {})) w->cancel();
}

void Coordinator::grant(RequestId id) {
  auto it = tickets_.find(id);
  if (it == tickets_.end()) return;
  eviction_.served(it->second->model);
  it->second->state = Ticket::State::granted;
  it->second->wake_.cancel();
}

void Coordinator::deny(RequestId id, const std::string& model, DenyReason why) {
  auto it = tickets_.find(id);
  if (it == tickets_.end()) return;
  Ticket& t = *it->second;
  t.state = Ticket::State::denied;
  switch (why) {
    case DenyReason::shutdown:
      t.error = server_error(503, "llmux is shutting down; retry shortly", "shutting_down");
      break;
    case DenyReason::queue_full:
      t.error = ApiError{429, "rate_limit_error", "queue_full",
                         "too many requests are waiting for model '" + model + "' (queue.max " +
                             std::to_string(scheduler_.queued_for(model)) + "); retry later"};
      t.error.retry_after = 2;
      break;
    case DenyReason::start_failed:
      t.error = start_error(model);
      break;
    case DenyReason::no_room:
      t.error = no_room_error(model);
      break;
  }
  t.wake_.cancel();
}

void Coordinator::wake_at(SchedClock::time_point at) {
  wake_timer_.expires_at(at);
  wake_timer_.async_wait([this](const error_code& ec) {
    if (!ec) scheduler_.tick();
  });
}

ApiError Coordinator::start_error(const std::string& model) const {
  if (!last_failure_ || last_failure_->model != model)
    return server_error(503, "model '" + model + "' could not be started", "engine_start_failed");
  const StartFailure& f = last_failure_->failure;
  if (f.refusal) return *f.refusal;
  std::string msg = "model '" + model + "' failed to start: " + f.reason;
  auto tail = f.last_lines;
  if (tail.size() > 10) tail.erase(tail.begin(), tail.end() - 10);
  if (!tail.empty()) msg += "\nlast engine output:\n" + join_lines(tail);
  secrets_->redactor()->redact(msg);  // already done by the supervisor; a later reload may have added secrets
  if (f.timed_out) return server_error(504, msg, "engine_start_timeout");
  return server_error(502, msg, "engine_start_failed");
}

// The 507 for a model that cannot start even with every evictable worker gone: pinned ones fill the room, or a
// group rule keeps it apart from one of them.
ApiError Coordinator::no_room_error(const std::string& model) const {
  std::vector<std::string> pinned;
  for (const WorkerView& w : scheduler_.workers())
    if (w.pinned) pinned.push_back(w.model);
  std::string names;
  for (const auto& p : pinned) names += (names.empty() ? "" : ", ") + p;
  if (auto apart = rules_.conflicts(model, pinned); !apart.empty()) {
    return ApiError{409, "invalid_request_error", "group_conflict",
                    "model '" + model + "' cannot be resident beside the pinned model '" + apart.front() +
                        "' (llama-swap groups: swap or exclusive); unpin it or change the groups"};
  }
  return insufficient_memory("model '" + model + "' does not fit beside the pinned models (" +
                             (names.empty() ? std::string("none") : names) +
                             ") within memory.budget and maxResident; unpin one, or raise memory.budget or maxResident");
}

void Coordinator::worker_idle(const std::string& model) {
  memory_.set_busy(model, false);
  resident(model).idle_since = SchedClock::now();
  arm_ttl(model);
  // Pressure that arrived while it was busy evicts it now. Posted: effects never re-enter the scheduler.
  if (eviction_.evicts(memory_.pressure())) net::post(io_, [this] { on_pressure(memory_.pressure()); });
}

void Coordinator::arm_ttl(const std::string& model) {
  Resident& r = resident(model);
  r.ttl_expires.reset();
  r.ttl.clear();
  const ModelConfig* mc = config_->find_model(model);
  Duration ttl = mc && !mc->pinned ? mc->ttl : Duration(0);
  if (ttl.count() <= 0) return;
  const auto due = LazyTimer::Clock::now() + ttl;
  r.ttl_expires = due;
  r.ttl.set_quiet(due);
}

void Coordinator::worker_busy(const std::string& model) {
  memory_.set_busy(model, true);
  Resident& r = resident(model);
  r.idle_since.reset();
  r.ttl_expires.reset();
  r.ttl.clear();  // the pending wait, if any, lapses when it fires
}

}  // namespace llmux
