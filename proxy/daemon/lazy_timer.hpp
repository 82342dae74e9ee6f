// LazyTimer: a timer for a due time that moves much more often than it comes (a session's I/O deadline, the idle
// TTL, the disconnect watch's start delay). set() only records the due time; one wait stays pending and, when it
// wakes before the latest due time, waits again for it. So a due time pushed later on every request costs no timer
// operation at all; only an earlier due time than the one waited for re-arms the timer. on_due runs once the due
// time has passed, unless clear() came first; never after the LazyTimer is destroyed.
#pragma once

#include <functional>
#include <memory>

#include "common/net.hpp"

namespace llmux {

class LazyTimer {
 public:
  using Clock = net::steady_timer::clock_type;
  LazyTimer(const net::any_io_executor& ex, std::function<void()> on_due);
  ~LazyTimer();
  LazyTimer(const LazyTimer&) = delete;
  LazyTimer& operator=(const LazyTimer&) = delete;
  void set(Clock::time_point due);
  // For a due time that begins a quiet spell (an idle connection, an idle worker): as set(), but a pending wait
  // for much earlier (before half-way to `due`) is moved to `due`, so the quiet spell has no early wake-up. Under
  // steady traffic that re-arms at most once per half period.
  void set_quiet(Clock::time_point due);
  void clear();  // nothing due: a pending wait ends when it wakes
  bool armed() const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the pending wait's handler
  static void wait(const std::shared_ptr<State>& s, Clock::time_point at);
};

}  // namespace llmux
