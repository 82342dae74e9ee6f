#include "proxy/daemon/lazy_timer.hpp"

namespace llmux {

struct LazyTimer::State {
  State(const net::any_io_executor& ex, std::function<void()> f) : timer(ex), on_due(std::move(f)) {}
  net::steady_timer timer;
  std::function<void()> on_due;  // reset when the LazyTimer goes away
  Clock::time_point due{}, waiting_until{};
  uint64_t generation = 0;  // a handler of a superseded wait does nothing
  bool armed = false, waiting = false;
};

LazyTimer::LazyTimer(const net::any_io_executor& ex, std::function<void()> on_due)
    : state_(std::make_shared<State>(ex, std::move(on_due))) {}

LazyTimer::~LazyTimer() {
  state_->on_due = nullptr;
  state_->armed = false;
  state_->timer.cancel();  // the pending handler runs soon, finds nothing, and releases the state
}

void LazyTimer::set(Clock::time_point due) {
  State& s = *state_;
  s.due = due;
  s.armed = true;
  if (!s.waiting || due < s.waiting_until) wait(state_, due);
}

void LazyTimer::set_quiet(Clock::time_point due) {
  State& s = *state_;
  const auto now = Clock::now();
  if (s.waiting && s.waiting_until < due && s.waiting_until - now < (due - now) / 2) {
    s.due = due;
    s.armed = true;
    return wait(state_, due);
  }
  set(due);
}

void LazyTimer::clear() { state_->armed = false; }

bool LazyTimer::armed() const { return state_->armed; }

void LazyTimer::wait(const std::shared_ptr<State>& s, Clock::time_point at) {
  s->waiting = true;
  s->waiting_until = at;
  s->timer.expires_at(at);  // cancels a wait for a later time: its handler sees a stale generation
  s->timer.async_wait([s, gen = ++s->generation](const error_code& ec) {
    if (gen != s->generation) return;
    s->waiting = false;
    if (ec || !s->armed || !s->on_due) return;
    if (Clock::now() < s->due) return wait(s, s->due);  // pushed later meanwhile
    s->armed = false;
    s->on_due();
  });
}

}  // namespace llmux
