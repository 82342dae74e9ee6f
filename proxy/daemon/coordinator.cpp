#include "proxy/daemon/coordinator.hpp"

#include <spdlog/spdlog.h>

#include "common/config_diff.hpp"
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
      config_(std::move(config)),
      secrets_(std::move(secrets)),
      supervisor_(io, reaper),
      scheduler_(*this, scheduler_options()),
      ttl_timer_(io.get_executor(),
                 [this] {
                   spdlog::info("[{}] idle for its ttl", scheduler_.model());
                   scheduler_.idle_expired(scheduler_.model());
                 }),
      wake_timer_(io),
      memory_(
          io, [this](Pressure p) { on_pressure(p); },
          [this](const std::string& model, uint64_t, uint64_t) { on_over_ceiling(model); }) {
  memory_.configure(*config_);
  use_secrets_of(*config_);
  supervisor_.on_unexpected_exit([this](const std::string& model, int) {
    memory_.worker_stopped();
    wake_stop_waiters();
    scheduler_.worker_stopped(model);
  });
  supervisor_.on_line([](const std::string& model, std::string_view line) {
    auto engine = spdlog::get("engine");  // serve() sets it up; tests of the coordinator alone may not
    (engine ? engine : spdlog::default_logger())->info("[{}] {}", model, line);
  });
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
    }
    return p;
  };
  return o;
}

net::awaitable<Admission> Coordinator::acquire(std::shared_ptr<Ticket> t) {
  if (auto decided = begin_acquire(t)) co_return std::move(*decided);
  co_return co_await finish_acquire(std::move(t));
}

std::optional<Admission> Coordinator::begin_acquire(const std::shared_ptr<Ticket>& t) {
  if (scheduler_.model() != t->model) {  // a model that can never fit must not unload the resident one first
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
  if (!t.was_ready_ && loading_model_ == t.model) {  // a load of this model happened (or was joined) meanwhile
    auto load_begin = std::max(t.enqueued_, load_requested_at_);
    a.queue_wait = std::chrono::duration_cast<Duration>(load_begin - t.enqueued_);
    a.load_wait = std::chrono::duration_cast<Duration>(done - load_begin);
  } else {
    a.queue_wait = std::chrono::duration_cast<Duration>(done - t.enqueued_);
  }
  switch (t.state) {
    case Ticket::State::granted:
      a.lease = Lease{t.id, worker_address()};
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
  ceiling_restarted_.clear();  // it serves requests again: a later ceiling may restart it again
  return Lease{id, worker_address()};
}

const std::shared_ptr<const WorkerAddress>& Coordinator::worker_address() {
  const WorkerInfo& info = supervisor_.info();
  if (!address_ || address_->generation != info.generation)
    address_ = std::make_shared<const WorkerAddress>(WorkerAddress{info.model, info.endpoint, info.generation});
  return address_;
}

void Coordinator::abandon(Ticket& t) {
  if (t.state != Ticket::State::waiting) return;
  t.state = Ticket::State::abandoned;
  t.wake_.cancel();
  scheduler_.cancel(t.id);
}

void Coordinator::release(const Lease& lease) { scheduler_.finished(lease.id); }

net::awaitable<void> Coordinator::unload() {
  if (scheduler_.phase() == WorkerPhase::none) co_return;
  auto waiter = add_stop_waiter();
  scheduler_.retire_all();
  error_code ec;
  co_await waiter->async_wait(net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<std::optional<ApiError>> Coordinator::load(const ModelConfig& model) {
  auto ticket = make_ticket(model);
  Admission a = co_await acquire(ticket);
  if (!a.lease) co_return a.error;
  release(*a.lease);
  co_return std::nullopt;
}

net::awaitable<void> Coordinator::unload(bool force) {
  if (force && supervisor_.state() != WorkerState::stopped) {
    metrics_.eviction("manual", supervisor_.info().model);
    history_.last_stop_reason = "manual";
  }
  if (force) co_await stop_worker_now();
  else co_await unload();
}

void Coordinator::begin_shutdown() { scheduler_.shutdown(); }

net::awaitable<void> Coordinator::stop_worker_now() {
  if (supervisor_.state() == WorkerState::stopped) co_return;
  auto waiter = add_stop_waiter();
  supervisor_.stop([this] { on_stopped(); });
  error_code ec;
  co_await waiter->async_wait(net::redirect_error(net::use_awaitable, ec));
}

void Coordinator::apply_config(std::shared_ptr<const Config> next) {
  auto previous = std::exchange(config_, std::move(next));
  use_secrets_of(*config_);
  scheduler_.set_options(scheduler_options());
  memory_.configure(*config_);
  const std::string& resident = scheduler_.model();
  if (resident.empty()) return;
  const ModelConfig* now = config_->find_model(resident);
  const ModelConfig* before = previous->find_model(resident);
  if (now == nullptr) {
    spdlog::info("model {} was removed from the config: unloading it once its requests finish", resident);
    scheduler_.retire_all(StopReason::reload);
  } else if (before != nullptr && needs_engine_restart(*before, *now)) {
    spdlog::info("model {} changed: restarting it once its requests finish", resident);
    scheduler_.retire_all(StopReason::reload);
  } else if (scheduler_.idle(resident)) {
    arm_ttl();  // the ttl may have changed
  }
}

// The previous config's secrets stay: its engine may still be running (and printing them) until it is retired.
void Coordinator::use_secrets_of(const Config& config) {
  secrets_->add(config.secrets);  // the reloader may have added them already (before logging the diff)
  supervisor_.set_redactor(secrets_->redactor());
}

void Coordinator::start_worker(const std::string& model) {
  const ModelConfig* mc = config_->find_model(model);
  if (mc == nullptr) {  // removed from the config while queued
    StartFailure f{"model '" + model + "' is no longer configured", {}};
    net::post(io_, [this, model, f] { on_started(model, &f); });
    return;
  }
  loading_model_ = model;
  load_requested_at_ = SchedClock::now();
  net::co_spawn(io_, admit_and_start(model), [](std::exception_ptr e) {
    if (e) spdlog::error("start sequence ended by an exception");
  });
}

// Memory admission (may wait for memory freed by an unload to come back), then the spawn.
net::awaitable<void> Coordinator::admit_and_start(std::string model) {
  const ModelConfig* mc = config_->find_model(model);
  auto refusal = co_await memory_.admit(*mc);
  if (scheduler_.phase() != WorkerPhase::starting || scheduler_.model() != model) co_return;  // shut down meanwhile
  mc = config_->find_model(model);
  if (refusal || mc == nullptr) {
    StartFailure f{refusal ? refusal->message : "model '" + model + "' is no longer configured", {}};
    f.refusal = refusal;
    if (refusal) spdlog::warn("not loading {}: {}", model, refusal->message);
    on_started(model, &f);
    co_return;
  }
  spdlog::info("[{}] loading model", model);
  supervisor_.start(*mc, config_->timeouts, [this, model](const StartFailure* f) { on_started(model, f); });
}

// Evicts (after in-flight requests) a worker above its memory ceiling. onCeiling: restart starts it again, once:
// an engine that is above its ceiling again before serving a request is only evicted (no restart storm).
void Coordinator::on_over_ceiling(const std::string& model) {
  if (config_->memory.on_ceiling == OnCeiling::restart) {
    if (ceiling_restarted_ != model) {
      restart_after_stop_ = model;
      ceiling_restarted_ = model;
    } else {
      spdlog::warn("[{}] still above its ceiling right after a restart: not restarting it until a request asks",
                   model);
    }
  }
  scheduler_.retire_all(StopReason::ceiling);
}

bool Coordinator::pressure_evicts(Pressure level) const {
  PressureLevel at = config_->memory.pressure.evict_at;
  return level == Pressure::critical || (level == Pressure::warning && at == PressureLevel::warning);
}

void Coordinator::on_pressure(Pressure level) {
  if (!pressure_evicts(level) || scheduler_.phase() != WorkerPhase::ready || scheduler_.in_flight() > 0) return;
  spdlog::warn("memory pressure {}: evicting idle model {}", to_string(level), scheduler_.model());
  scheduler_.retire_all(StopReason::pressure);
}

void Coordinator::on_started(const std::string& model, const StartFailure* failure) {
  if (failure == nullptr) {
    double load = std::chrono::duration<double>(supervisor_.info().load_time).count();
    metrics_.load(model, load, true);
    history_.last_load_seconds = load;
    if (swap_started_at_)
      history_.last_swap_seconds = std::chrono::duration<double>(SchedClock::now() - *swap_started_at_).count();
    swap_started_at_.reset();
    scheduler_.worker_ready(model);  // first: the requests that waited for this load are served even if it is over
                                // its ceiling from the start (else it would be evicted and reloaded forever)
    if (const ModelConfig* mc = config_->find_model(model))
      memory_.worker_started(supervisor_.info().pid, *mc, scheduler_.in_flight() > 0);
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
  metrics_.eviction(reason, scheduler_.model());
  history_.last_stop_reason = reason;
  if (why == StopReason::swap) swap_started_at_ = SchedClock::now();
  supervisor_.stop([this] { on_stopped(); });
}

void Coordinator::on_stopped() {
  memory_.worker_stopped();
  history_.idle_since.reset();
  history_.ttl_expires.reset();
  ttl_timer_.clear();
  wake_stop_waiters();
  scheduler_.worker_stopped(scheduler_.model());
  if (auto model = std::exchange(restart_after_stop_, {}); !model.empty()) scheduler_.preload(model);
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
  ceiling_restarted_.clear();  // it serves requests again: a later ceiling may restart it again
  auto it = tickets_.find(id);
  if (it == tickets_.end()) return;
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
      t.error = ApiError{507, "server_error", "insufficient_memory",
                         "model '" + model + "' does not fit in memory beside the pinned models; unpin one or "
                         "raise memory.budget"};
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

void Coordinator::worker_idle(const std::string&) {
  memory_.set_busy(false);
  history_.idle_since = SchedClock::now();
  arm_ttl();
  // Pressure that arrived while it was busy evicts it now. Posted: effects never re-enter the scheduler.
  if (pressure_evicts(memory_.pressure())) net::post(io_, [this] { on_pressure(memory_.pressure()); });
}

void Coordinator::arm_ttl() {
  history_.ttl_expires.reset();
  ttl_timer_.clear();
  const ModelConfig* mc = config_->find_model(scheduler_.model());
  Duration ttl = mc ? mc->ttl : Duration(0);
  if (ttl.count() <= 0) return;
  const auto due = LazyTimer::Clock::now() + ttl;
  history_.ttl_expires = due;
  ttl_timer_.set_quiet(due);
}

void Coordinator::worker_busy(const std::string&) {
  memory_.set_busy(true);
  history_.idle_since.reset();
  history_.ttl_expires.reset();
  ttl_timer_.clear();  // the pending wait, if any, lapses when it fires
}

}  // namespace llmux
