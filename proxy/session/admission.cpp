#include "proxy/session/admission.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "common/seconds.hpp"
#include "proxy/http/routes.hpp"

namespace llmux {

namespace {

constexpr auto kFeedbackInterval = std::chrono::seconds(1);
constexpr auto kWatchDelay = std::chrono::milliseconds(200);

struct PendingAdmission {
  explicit PendingAdmission(const net::any_io_executor& ex) : tick(ex) {}
  std::optional<Admission> result;
  net::steady_timer tick;
};

net::awaitable<void> run_acquire(Coordinator& c, std::shared_ptr<Ticket> t, std::shared_ptr<PendingAdmission> p,
                                 bool submitted) {
  Admission a;  // one co_await per statement (g++ 12)
  if (submitted) a = co_await c.finish_acquire(std::move(t));
  else a = co_await c.acquire(std::move(t));
  p->result = std::move(a);
  p->tick.cancel();
}

}  // namespace

void RequestAdmission::watch(bool waits) {
  if (watching_) return;
  if (ir_.stream || waits) {
    watch_.start();
    watching_ = true;
  } else {
    watch_.arm_after(kWatchDelay);
  }
}

bool RequestAdmission::now(Admission& out) {
  auto lease = c_.try_grant(ir_.model->id);  // resident, ready, room, nobody waiting
  if (!lease) return false;
  out.lease = std::move(lease);
  watch(false);
  return true;
}

LoadingFeedback RequestAdmission::feedback() const {
  const bool chat = normalize_path(req_.target()).ends_with("/chat/completions");
  return LoadingFeedback{ir_.model->id, ir_.requested.empty() ? ir_.model->id : ir_.requested,
                         ir_.model->send_loading_state && chat};
}

// A ticket in the scheduler's queue, waiting for a load, a swap or room, with the client watched meanwhile.
net::awaitable<Admission> RequestAdmission::wait() {
  auto ticket = c_.make_ticket(*ir_.model);
  // A raw pointer: the ticket outlives the guard, and a 16-byte capture fits std::function's small buffer.
  const ClientWatch::OnGone on_gone(watch_, [&c = c_, t = ticket.get()] {
    spdlog::debug("client disconnected while waiting for model {}", t->model);
    c.abandon(*t);
  });
  if (ir_.stream) watch(true);
  Admission adm;
  if (ir_.stream && !c_.ready_for(ir_.model->id)) {
    adm = co_await with_feedback(ticket, false);
  } else if (auto decided = c_.begin_acquire(ticket)) {
    adm = std::move(*decided);
    if (adm.lease) watch(false);
  } else if (ir_.stream) {  // queued behind the resident model's maxConcurrency: heartbeats too
    adm = co_await with_feedback(ticket, true);
  } else {
    watch(true);
    adm = co_await c_.finish_acquire(ticket);
  }
  co_return adm;
}

// The acquire runs as its own coroutine while this one writes: once a second without a decision it commits the
// response to 200 text/event-stream (through early_) and sends feedback, so clients do not time out. A failed
// write abandons the ticket. `submitted`: begin_acquire() already ran for `t`.
net::awaitable<Admission> RequestAdmission::with_feedback(std::shared_ptr<Ticket> t, bool submitted) {
  const LoadingFeedback f = feedback();
  auto ex = co_await net::this_coro::executor;
  auto p = std::make_shared<PendingAdmission>(ex);
  const auto started = std::chrono::steady_clock::now();
  net::co_spawn(ex, run_acquire(c_, t, p, submitted), [](std::exception_ptr e) {
    if (e) spdlog::error("acquire ended by an exception");
  });
  bool writing = true;
  while (!p->result) {
    error_code ec;
    p->tick.expires_after(kFeedbackInterval);
    co_await p->tick.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (p->result || !writing) continue;
    bool ok = true;
    if (!early_.started()) ok = co_await early_.begin(req_.version(), req_.keep_alive());
    const auto created = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
    std::string event = feedback_event(c_.worker_snapshot(f.model), f, seconds_since(started), t->id, created);
    if (ok) ok = co_await early_.send(event);
    if (!ok) {  // the client is gone: stop waiting; a load it triggered goes on
      writing = false;
      c_.abandon(*t);
    }
  }
  co_return std::move(*p->result);
}

}  // namespace llmux
